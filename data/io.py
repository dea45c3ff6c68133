"""Atomic writes: a reader never sees a half-written file or folder under its final name."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import tempfile
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
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
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
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
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
