"""Atomic writes: a reader never sees a half-written file or folder under its final name."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `final`; on success it replaces `final`.

    On an exception the temporary folder is removed and `final` is left as it was.
    The swap renames the old folder aside, renames the new one into place, then deletes
    the old one, so the final name always holds either the old or the new complete output.
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = fresh_scratch(final.parent, final.name, folder=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = final.parent / f".{final.name}.old-{os.getpid()}"
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def fresh_scratch(parent: Path, name: str, *, folder: bool, suffix: str = "") -> Path:
    """Create an empty scratch folder or file, `.<name>.scratch-<token><suffix>`, in `parent`.

    Made by a plain `mkdir` or `open` under a name no one else holds, not by `tempfile`
    (0700 and 0600 whatever the umask), so once renamed into place an output has the mode
    any other new file of this process would have: readable by an API running as another
    user when the umask allows it. No umask is read (that takes two `os.umask` calls,
    process-wide, racing with threads that create files meanwhile).
    """
    while True:
        path = Path(parent) / f".{name}.scratch-{secrets.token_hex(6)}{suffix}"
        try:
            if folder:
                path.mkdir()
            else:
                os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except FileExistsError:
            continue
        return path


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the file `path` (created if missing) for the block.

    An `flock`, so the kernel drops it when the holder dies, however it dies, and a killed
    run never leaves a stale lock behind.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _atomic_file(path: Path, write: Any, suffix: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = fresh_scratch(path.parent, path.name, folder=False, suffix=suffix)
    try:
        write(tmp)
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_json(obj: Any, path: Path) -> None:
    """Write `obj` as indented JSON, atomically."""

    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")

    _atomic_file(path, _write, ".json.tmp")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as Parquet, atomically."""
    _atomic_file(path, lambda tmp: frame.to_parquet(tmp, index=False), ".parquet.tmp")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
