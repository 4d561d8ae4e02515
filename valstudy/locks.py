"""One writer per folder: an OS-level lock on a run folder (or a synthetic dataset folder) held by one process.

The lock is ``fcntl.flock`` on ``<folder>/.valstudy.lock``, taken without waiting and held until the holder releases
it or dies: the kernel drops it with the process, so a ``kill -9`` leaves nothing to clean up and the same command
resumes. The file holds the holder's pid, which a refused process names. Within one process the lock is re-entrant
(``train`` then ``eval`` in one command share it).

The study driver takes its own lock *beside* each run folder (``.<run>.lock``) around the ``valstudy train``
process it starts; the two lock different files, so they never refuse each other.
"""
from __future__ import annotations

import errno
import fcntl
import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import ValstudyError

LOCK_NAME = ".valstudy.lock"
_held: dict[str, list] = {}    # resolved folder -> [file descriptor, re-entry count]


class FolderBusyError(ValstudyError):
    """Another process holds the folder's lock."""


def _holder(fd: int) -> str:
    try:
        text = os.pread(fd, 64, 0).decode("ascii", "replace").strip()
    except OSError:
        text = ""
    return text if text.isdigit() else "unknown"


def prepare_folder(folder: str | Path, what: str) -> Path:
    """Create ``folder`` (and its parents); one-line errors when it is a file or cannot be created."""
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValstudyError(f"{folder}: is a file, not a folder; give a folder path for the {what}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise ValstudyError(f"{folder}: a file is in the way of the {what} (a parent path is a file)") from None
    except NotADirectoryError:
        raise ValstudyError(f"{folder}: a parent of the {what} is a file, not a folder") from None
    except OSError as e:
        raise ValstudyError(f"{folder}: cannot create the {what} ({e.strerror})") from None
    return folder


@contextmanager
def folder_lock(folder: str | Path, what: str = "run folder") -> Iterator[Path]:
    """Hold ``folder``'s lock for the ``with`` block (created if absent).

    Raises
    ------
    FolderBusyError
        Another process holds it; the message names the folder and the holder's pid.
    ValstudyError
        The folder is a file, or cannot be created or written.
    """
    folder = prepare_folder(folder, what)
    key = str(folder.resolve())
    if key in _held:
        _held[key][1] += 1
        try:
            yield folder
        finally:
            _held[key][1] -= 1
        return
    path = folder / LOCK_NAME
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)   # the umask decides the mode
    except OSError as e:
        raise ValstudyError(f"{folder}: cannot write in the {what} ({e.strerror}); check its permissions "
                            f"and free space") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as e:
        holder = _holder(fd)
        os.close(fd)
        if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
            raise FolderBusyError(f"{folder}: {what} is in use by another valstudy process (pid {holder}); wait "
                                  f"for it to finish or stop it, then run the same command again") from None
        raise ValstudyError(f"{folder}: cannot lock the {what} ({e.strerror})") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass  # the pid is a courtesy to the refused; the lock itself holds
    _held[key] = [fd, 1]
    try:
        yield folder
    finally:
        _held[key][1] -= 1
        if _held[key][1] == 0:
            del _held[key]
            try:
                os.ftruncate(fd, 0)   # no stale pid left behind (a killed holder's pid is overwritten next time)
            except OSError:
                pass
            os.close(fd)   # closing the descriptor releases the lock


def wait_for(folder: str | Path) -> None:
    """Block until no other process holds ``folder``'s lock (returns at once when nobody does); takes nothing."""
    path = Path(folder) / LOCK_NAME
    if not path.is_file():
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)   # granted once the writer's exclusive lock is gone
    finally:
        os.close(fd)


def holds_lock(folder: str | Path) -> bool:
    """Whether this process holds ``folder``'s lock."""
    return str(Path(folder).resolve()) in _held
