"""The scored weeks on disk: one run folder per scoring, and the links that name the weeks.

Scored weeks live in `outputs/score/runs/<DATE>.<stamp>/`; `outputs/score/<DATE>` and
`outputs/score/latest` are symbolic links, each replaced in one atomic rename once a run is
complete. A run killed at any moment leaves every earlier week, and the week's previous run,
exactly as they were; the final names never point at a half-written folder. Concurrent runs
take turns (a lock in `runs/`) to rename a finished folder, repoint the links and prune, so no
run prunes a week another run has written and not yet linked.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from data.errors import ContractError
from data.io import locked, make_folder, read_json, scratch, sweep_scratch, writing

LATEST = "latest"
RUNS = "runs"


@contextlib.contextmanager
def week_folder(out_dir: Path, day: dt.date) -> Iterator[Path]:
    """A fresh run folder for `day`; on success `<day>` and `latest` are pointed at it.

    The scratch of runs killed earlier, in `runs/` and among the links, goes first.
    """
    out_dir = Path(out_dir)
    runs = out_dir / RUNS
    make_folder(runs, out_dir)
    sweep_scratch(runs)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    final = runs / f"{day}.{stamp}"
    with scratch(runs, final.name, folder=True) as tmp:
        yield tmp
        with writing(out_dir, f"linking {day}"), links_locked(out_dir):
            tmp.rename(final)
            relink(out_dir, day, final)


def relink(out_dir: Path, day: dt.date, final: Path) -> None:
    """Point `<day>` at the run folder `final` and `latest` at the newest week."""
    for dead in out_dir.glob(".*.link-*"):  # only a lock holder makes these: left by a kill
        dead.unlink(missing_ok=True)
    link = out_dir / str(day)
    old = link.resolve() if link.is_symlink() else None
    point(link, Path(RUNS) / final.name)
    newest = max(
        (p.name for p in out_dir.iterdir() if p.is_symlink() and p.name != LATEST),
        default=str(day),
    )
    point(out_dir / LATEST, Path(newest))
    if old is not None and old != final.resolve():
        shutil.rmtree(old, ignore_errors=True)


def links_locked(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One run at a time renames a finished folder, repoints links, or prunes.

    Outside the lock every finished run folder already has its link, so pruning (which
    removes unlinked runs as orphans) never removes a folder another run is about to link.
    """
    return locked(Path(out_dir) / RUNS / ".lock")


def point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` in one atomic rename."""
    tmp = link.parent / f".{link.name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def prune(out_dir: Path, keep: int, written: dt.date) -> None:
    """Drop all but the newest `keep` scored weeks (0 keeps all) and any orphaned run.

    The week this run has just written is never dropped, even when it is older than the
    newest `keep` (`churn score --as-of` a past Monday).
    """
    with links_locked(out_dir):
        weeks = sorted(p for p in out_dir.iterdir() if p.is_symlink() and p.name != LATEST)
        for link in weeks[:-keep] if keep else []:
            if link.name == str(written):
                continue
            target = link.resolve()
            link.unlink()
            shutil.rmtree(target, ignore_errors=True)
        live = {p.resolve() for p in out_dir.iterdir() if p.is_symlink()}
        for run in (out_dir / RUNS).iterdir():
            if run.resolve() not in live and not run.name.startswith("."):
                shutil.rmtree(run, ignore_errors=True)


def read_scores(score_dir: Path, as_of: dt.date | None = None) -> tuple[pd.DataFrame, dict]:
    """A scored week (default: `latest`) and its summary."""
    folder = Path(score_dir) / (str(as_of) if as_of else LATEST)
    if not (folder / "scores.parquet").exists():
        raise ContractError(str(folder), None, "no scored week here: run `churn score` first")
    return pd.read_parquet(folder / "scores.parquet"), read_json(folder / "summary.json")
