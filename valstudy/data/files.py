"""Shared by the three loaders: the dataset root, annotation files, and which image files exist.

Every problem becomes a one-line :class:`~valstudy.errors.DataError` (a malformed file, with the line or entry) or
:class:`~valstudy.errors.MissingResourceError` (an absent root or file, pointing to ``data/README.md``).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DataError, MissingResourceError, ValstudyError
from ..io import read_error, read_json

README = "data/README.md"


def remedy(dataset: str) -> str:
    return (f"see {README} for where the real {dataset} files come from and the layout expected, "
            f"or generate synthetic data with `python -m valstudy data synth --dataset {dataset} --root DIR`")


def require_root(dataset: str, root: str | Path) -> Path:
    """The dataset root as a Path; an absent folder raises MissingResourceError pointing to data/README.md."""
    root = Path(root)
    if not root.is_dir():
        raise MissingResourceError(f"{dataset} dataset root", root, remedy(dataset))
    return root


def require_file(dataset: str, path: Path, what: str) -> Path:
    if not path.is_file():
        raise MissingResourceError(f"{dataset} {what}", path, remedy(dataset))
    return path


def read_records(dataset: str, path: Path, keys: Sequence[str], what: str,
                 strings: Sequence[str] | None = None) -> list[dict]:
    """A JSON file holding a list of objects, each with ``keys``; names the entry and key that are wrong.

    The values of ``strings`` (default: every key) must be strings: a number or null where training expects a
    name or a caption is reported here, by entry, rather than failing later.
    """
    require_file(dataset, path, what)
    data = read_json(path, what=f"{dataset} {what}", remedy=remedy(dataset))
    if not isinstance(data, list):
        raise DataError(path, f"expected a JSON list of objects, got {type(data).__name__}")
    for i, entry in enumerate(data):
        if not isinstance(entry, dict):
            raise DataError(path, f"entry {i} is a {type(entry).__name__}, expected an object")
        for k in keys:
            if k not in entry:
                raise DataError(path, f"entry {i} has no key '{k}'", key=k)
        for k in (keys if strings is None else strings):
            if not isinstance(entry[k], str):
                shown = json.dumps(entry[k])
                shown = shown if len(shown) <= 40 else shown[:37] + "..."
                raise DataError(path, f"entry {i}: '{k}' must be a string, got {_json_type(entry[k])} {shown}",
                                key=k)
    return data


def _json_type(value) -> str:
    return {bool: "boolean", int: "number", float: "number", type(None): "null", list: "list",
            dict: "object"}.get(type(value), type(value).__name__)


def read_json_list(dataset: str, path: Path, what: str) -> list[str]:
    """A JSON file holding a list of strings (FashionIQ image splits)."""
    require_file(dataset, path, what)
    data = read_json(path, what=f"{dataset} {what}", remedy=remedy(dataset))
    if not isinstance(data, list) or not all(isinstance(x, str) for x in data):
        raise DataError(path, "expected a JSON list of image names (strings)")
    return data


def read_lines(dataset: str, path: Path, what: str) -> list[tuple[int, str]]:
    """Non-blank lines of a text file as (1-based line number, line without the newline)."""
    require_file(dataset, path, what)
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise read_error(path, e) from None
    out = []
    for n, line in enumerate(raw.split(b"\n"), 1):
        try:
            text = line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            raise DataError(path, f"not UTF-8 text: byte 0x{line[e.start]:02x} at column {e.start + 1} "
                                  f"({e.reason})", line=n) from None
        if text.strip():
            out.append((n, text))
    return out


def unique(items) -> list:
    """Items in first-seen order without repeats."""
    return list(dict.fromkeys(items))


def check_protocol(dataset: str, protocols: Sequence[str], protocol: str | None) -> str:
    if protocol is None:
        return protocols[0]
    if protocol not in protocols:
        raise ValstudyError(f"{dataset} has no protocol '{protocol}'; choose one of: {', '.join(protocols)}")
    return protocol


class ImageFiles:
    """Which image keys have a file on disk, asked once per key.

    With ``check=False`` every key counts as present and no file is touched (annotation-only mode). With
    ``strict=True`` the first missing image raises DataError instead of being recorded.
    """

    def __init__(self, resolve: Callable[[str], Path], check: bool = True, strict: bool = False):
        self.resolve, self.check, self.strict = resolve, check, strict
        self._seen: dict[str, bool] = {}
        self.missing: list[str] = []     # paths of the missing files, first-seen order

    def available(self, key: str) -> bool:
        if not self.check:
            return True
        ok = self._seen.get(key)
        if ok is None:
            path = self.resolve(key)
            ok = path.is_file()
            self._seen[key] = ok
            if not ok:
                if self.strict:
                    raise DataError(path, "image file missing (strict=True; without it the pairs that need "
                                          "this image are dropped and counted)")
                self.missing.append(str(path))
        return ok

    def all_available(self, *keys: str) -> bool:
        # check every key (not short-circuit) so each missing file is recorded
        return all([self.available(k) for k in keys])
