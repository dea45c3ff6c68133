"""Atomic writes: a reader never sees a half-written file or folder under its final name.

Writers work in hidden scratch beside the output and rename it into place; the scratch a
killed run leaves behind is removed by the next writer in the same folder.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import glob
import json
import os
import re
import secrets
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd

from data.errors import OutputError

# What says an output cannot be written: no permission, a read-only or full disk, a file in
# the way. Inside a stage's own code only a full disk is taken for that: a permission error
# there may be an input's.
_UNWRITABLE = frozenset(
    {
        errno.EACCES,
        errno.EPERM,
        errno.EROFS,
        errno.ENOSPC,
        errno.EDQUOT,
        errno.EEXIST,
        errno.ENOTDIR,
        errno.EISDIR,
        errno.ENOTEMPTY,
    }
)
_DISK_FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
_OLD = ".old"  # suffix of an output moved aside while its replacement moves in
_CLAIM = re.compile(r"(?P<stem>\.(?P<name>.+)\.scratch-[0-9a-f]{12})\.lock")


@contextlib.contextmanager
def atomic_dir(final: Path) -> Iterator[Path]:
    """Yield an empty temporary folder beside `final`; on success it replaces `final`.

    On an exception the temporary folder is removed and `final` is left as it was.
    The swap renames the old folder aside, renames the new one into place, then deletes
    the old one, so the final name holds either the old or the new complete output (a run
    killed between the two renames leaves the old one aside; the next run moves it back).
    """
    final = Path(final)
    if final.exists() and not final.is_dir():
        raise OutputError(str(final), "it is a file, not a folder")
    make_folder(final.parent, final)
    sweep_scratch(final.parent)
    with scratch(final.parent, final.name, folder=True) as tmp:
        with writing(final, "writing it", _DISK_FULL):
            yield tmp
        with writing(final, "moving it into place"):
            if final.exists():
                final.rename(tmp.with_suffix(_OLD))
            tmp.rename(final)


@contextlib.contextmanager
def writing(output: Path, action: str, errnos: frozenset[int] | None = None) -> Iterator[None]:
    """Turn an OS error of writing `output` into an `OutputError` naming it and the reason.

    Only errors that say the output cannot be written (`errnos`, by default: no permission,
    a read-only or full disk, a file in the way); anything else is a bug and stays as it is.
    """
    try:
        yield
    except OSError as err:
        if err.errno not in (errnos or _UNWRITABLE):
            raise
        where = f" ({err.filename})" if err.filename else ""
        raise OutputError(str(output), f"{action}: {err.strerror}{where}") from err


def make_folder(folder: Path, output: Path) -> None:
    """Create `folder` (and its parents) for writing `output`."""
    with writing(output, "creating its folder"):
        Path(folder).mkdir(parents=True, exist_ok=True)


@contextlib.contextmanager
def scratch(parent: Path, name: str, *, folder: bool, suffix: str = ".tmp") -> Iterator[Path]:
    """A fresh scratch folder or file in `parent` for writing `name`, gone when the block ends.

    Rename it into place before the block ends to keep it. Its name is
    `.<name>.scratch-<token><suffix>`, claimed for the block by an `flock` on
    `.<name>.scratch-<token>.lock`: if this process dies, the next `sweep_scratch` of
    `parent` removes whatever is left.

    Made by a plain `mkdir` or `open`, not by `tempfile` (0700 and 0600 whatever the
    umask), so once renamed into place an output has the mode any other new file of this
    process would have: readable by an API running as another user when the umask allows
    it. No umask is read (that takes two `os.umask` calls, process-wide, racing with
    threads that create files meanwhile).
    """
    output, action = Path(parent) / name, f"creating files in {parent}"
    with writing(output, action):
        stem, fd = _claim(Path(parent), name)
    try:
        tmp = Path(f"{stem}{suffix}")
        with writing(output, action):
            if folder:
                tmp.mkdir()
            else:
                os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666))
        yield tmp
    finally:
        _remove_scratch(stem)
        os.close(fd)


def sweep_scratch(parent: Path) -> None:
    """Remove the scratch that runs no longer alive (killed, crashed) left in `parent`.

    A scratch's writer is alive exactly while its lock is held: the kernel drops an `flock`
    when its holder dies, however it dies. A pid written in the name would be weaker both
    ways: a recycled pid keeps dead scratch forever, and a writer in another pid namespace
    (a container sharing the volume) looks dead and would lose its scratch mid-write.
    A dead writer's old output, moved aside while its final name is missing, is moved back.
    """
    parent = Path(parent)
    for lock in parent.glob(".*.scratch-*.lock") if parent.is_dir() else []:
        claim = _CLAIM.fullmatch(lock.name)
        if claim is None:
            continue
        try:
            fd = os.open(lock, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:  # removed meanwhile by its writer or another sweep, or not ours
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # held: the writer is alive (or the file system cannot tell)
            os.close(fd)
            continue
        try:
            stem = parent / claim["stem"]
            old, final = Path(f"{stem}{_OLD}"), parent / claim["name"]
            if old.is_dir() and not os.path.lexists(final):
                old.rename(final)
            _remove_scratch(stem)
        except OSError:  # the old output could not be moved back: leave it all for a person
            continue
        finally:
            os.close(fd)


def _claim(parent: Path, name: str) -> tuple[Path, int]:
    """A scratch stem no one else holds, and the descriptor holding its lock."""
    while True:
        stem = parent / f".{name}.scratch-{secrets.token_hex(6)}"
        lock = Path(f"{stem}.lock")
        try:
            fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
        except FileExistsError:
            continue
        fcntl.flock(fd, fcntl.LOCK_EX)
        with contextlib.suppress(FileNotFoundError):
            if os.path.samestat(os.fstat(fd), lock.stat()):
                return stem, fd
        # A sweep took the lock between open and flock and removed it: take another name.
        os.close(fd)


def _remove_scratch(stem: Path) -> None:
    """Remove `<stem>.*`, the claim's lock last."""
    lock = Path(f"{stem}.lock")
    for entry in stem.parent.glob(glob.escape(stem.name) + ".*"):
        if entry == lock:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
    lock.unlink(missing_ok=True)


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
    make_folder(path.parent, path)
    sweep_scratch(path.parent)
    with (
        scratch(path.parent, path.name, folder=False, suffix=suffix) as tmp,
        writing(path, "writing it"),
    ):
        write(tmp)
        tmp.replace(path)


def write_json(obj: Any, path: Path) -> None:
    """Write `obj` as indented JSON, atomically."""

    def _write(tmp: Path) -> None:
        tmp.write_text(json.dumps(obj, indent=2, default=str) + "\n", encoding="utf-8")

    _atomic_file(path, _write, ".json.tmp")


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame as Parquet, atomically."""
    _atomic_file(path, lambda tmp: frame.to_parquet(tmp, index=False), ".parquet.tmp")


def write_text(text: str, path: Path) -> None:
    """Write `text` as UTF-8, atomically."""
    _atomic_file(path, lambda tmp: tmp.write_text(text, encoding="utf-8"), ".tmp")


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
