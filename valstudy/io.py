"""Atomic writes: nothing already written is lost if a run is interrupted mid-write.

Files get the mode an ordinary ``open`` would give them (0666 less the user's umask), and a write that fails (a
read-only folder, a full disk) leaves the previous file untouched, no temporary file behind, and raises a one-line
:class:`~valstudy.errors.ValstudyError` naming the path.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

from .errors import DataError, MissingResourceError, ValstudyError

_umask_lock = threading.Lock()


def file_mode() -> int:
    """0666 less the process's umask: the mode ``open(path, "w")`` would give a new file."""
    with _umask_lock:   # reading the umask means setting it; do it under a lock
        mask = os.umask(0o022)
        os.umask(mask)
    return 0o666 & ~mask


def write_error(path: str | Path, e: OSError) -> ValstudyError:
    """A one-line error for a failed write: the path and the system's reason (read-only, no space, ...)."""
    return ValstudyError(f"{path}: cannot write ({e.strerror or e}); nothing was changed there")


def atomic_write(path: str | Path, write: Callable[[Any], None], mode: str = "w") -> Path:
    """Call ``write(fileobj)`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        os.fchmod(fd, file_mode())   # mkstemp makes 0600; give the file the mode the umask allows
        with os.fdopen(fd, mode, **({"encoding": "utf-8"} if "b" not in mode else {})) as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise write_error(path, e) from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def _remove(tmp: str | None) -> None:
    if tmp is not None and os.path.exists(tmp):
        try:
            os.unlink(tmp)
        except OSError:
            pass


def append_line(path: str | Path, line: str) -> None:
    """Append one line (a newline is added) to a text file, with a one-line error when it cannot be written."""
    try:
        with open(path, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    except OSError as e:
        raise ValstudyError(f"{path}: cannot append ({e.strerror or e})") from None


def write_json(path: str | Path, obj: Any, indent: int | None = 2) -> Path:
    """Write ``obj`` as JSON atomically."""
    return atomic_write(path, lambda f: json.dump(obj, f, indent=indent, sort_keys=False))


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` atomically."""
    return atomic_write(path, lambda f: f.write(text))


def read_json(path: str | Path, what: str = "JSON file", remedy: str = "check the path") -> Any:
    """Read a JSON file; a missing or malformed file raises a one-line error naming it."""
    path = Path(path)
    if not path.is_file():
        raise MissingResourceError(what, path, remedy)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(path, f"malformed JSON: {e.msg} (column {e.colno})", line=e.lineno) from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not UTF-8 text: {e.reason}") from None
    except OSError as e:
        raise read_error(path, e) from None


def read_jsonl(path: str | Path) -> list[dict]:
    """The records of a JSON-lines file (``metrics.jsonl``). A torn final line (the writer was killed mid-line) is
    left out; a malformed line before it raises DataError naming its line."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").split("\n")
    except OSError as e:
        raise read_error(path, e) from None
    records = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            if all(not rest.strip() for rest in lines[n:]):
                break   # the torn final line
            raise DataError(path, "malformed JSON line (not the last one, so not a torn write); fix or delete it",
                            line=n) from None
    return records


def read_error(path: str | Path, e: OSError) -> DataError:
    """A one-line error for a file that exists but cannot be read (permissions, I/O error)."""
    return DataError(path, f"cannot read ({e.strerror or e}); check its permissions")
