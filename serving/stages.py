"""The `score` and `report` DVC stages: the weekly list, and the page the meeting reads.

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
import logging
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from data.errors import ContractError
from data.io import (
    locked,
    make_folder,
    scratch,
    sweep_scratch,
    write_json,
    write_parquet,
    write_text,
    writing,
)
from data.params import BaseParams
from features.manifest import Manifest
from serving.params import ReportParams, ScoreParams
from serving.skew import SkewCheck, check_skew

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger(__name__)

LATEST = "latest"
RUNS = "runs"


def score(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: ScoreParams,
    as_of: dt.date | None = None,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Score every account active on `as_of` (default: the latest snapshot) with the champion."""
    from data.console import progress
    from features.snapshots import read_features
    from serving.models import load_scoring_model
    from serving.scoring import csv_frame, score_week, week_summary

    snapshots, manifest, _ = read_features(features_dir)
    dates = sorted(snapshots["as_of"].unique())
    if not dates:
        raise ContractError(str(features_dir), "as_of", "no snapshot to score")
    day = as_of or dates[-1]
    if day not in set(dates):
        raise ContractError(
            str(Path(features_dir) / "snapshots.parquet"),
            "as_of",
            f"--as-of {day} is not a snapshot date (weekly, {dates[0]} .. {dates[-1]})",
        )
    out_dir = Path(out_dir)
    mlflow_dir = Path(mlflow_dir or out_dir.parent / "mlflow")
    model, meta = load_scoring_model(train_dir, mlflow_dir, params.model)
    week = snapshots[snapshots["as_of"] == day]
    earlier = [d for d in dates if d < day]
    previous = snapshots[snapshots["as_of"] == earlier[-1]] if earlier else None
    scores = score_week(
        model,
        meta,
        manifest,
        week,
        previous,
        reasons_up=params.reasons_up,
        reasons_down=params.reasons_down,
        movers=params.movers,
        min_contribution=params.min_contribution,
        batch_rows=params.batch_rows,
        progress=lambda it: progress(it, desc=f"score {day}", unit="batch"),
    )
    skew = _skew(meta, manifest, week, params, day)
    prev_scores = None
    if previous is not None:
        prev_scores = previous[["account_id", "mrr"]].assign(
            probability=model.predict_proba(previous)[:, 1]
        )
    summary = week_summary(scores, prev_scores) | {
        "as_of": str(day),
        "previous_as_of": str(earlier[-1]) if earlier else None,
        # The horizon the probabilities cover is the one the model learned its labels on.
        "horizon_days": meta.horizon(manifest.horizon_days),
        "model": {
            "name": meta.model_name,
            "version": meta.model_version,
            "alias": meta.alias,
            "trained_at": meta.trained_at,
            "mlflow_run_id": meta.mlflow_run_id,
            "role": meta.role,
            "data_through": meta.data_through,
        },
        "scored_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "min_contribution": params.min_contribution,
        "skew": skew.model_dump(mode="json"),
    }
    with _week_folder(out_dir, day) as tmp:
        write_parquet(scores, tmp / "scores.parquet")
        csv_frame(scores).to_csv(tmp / "scores.csv", index=False)
        write_json(summary, tmp / "summary.json")
    _prune(out_dir, params.keep_weeks, day)
    log.info(
        "scored %d accounts on %s: expected churned MRR %.0f within %d days; tiers %s",
        len(scores),
        day,
        summary["expected_churned_mrr"],
        summary["horizon_days"],
        summary["accounts_by_tier"],
    )
    return summary


def _skew(
    meta: ModelMeta,
    manifest: Manifest,
    week: pd.DataFrame,
    params: ScoreParams,
    day: dt.date,
) -> SkewCheck:
    """The skew guard of the scored week, or a skipped check for a model without a profile."""
    from training.profile import compare_to_profile, saved_profile

    profile = saved_profile(meta)
    limits = {
        "max_psi": params.skew_max_psi,
        "max_missing_increase": params.skew_max_missing_increase,
    }
    if profile is None:
        note = "the model has no reference profile (trained before the skew guard): not checked"
        log.info("skew guard skipped on %s: %s", day, note)
        return SkewCheck(status="skipped", note=note, **limits)
    entries = [*(meta.feature_manifest or []), *manifest.features]
    check = check_skew(
        compare_to_profile(profile, week),
        {f["name"]: f["description"] for f in entries},
        training_start=str(profile.start),
        training_end=str(profile.end),
        training_rows=profile.rows,
        rows=len(week),
        **limits,
    )
    if check.flagged:
        log.warning(
            "train/serve skew on %s, %d of %d features unlike the training rows: %s",
            day,
            len(check.flagged),
            check.features_checked,
            "; ".join(f.line() for f in check.flagged),
        )
    return check


@contextlib.contextmanager
def _week_folder(out_dir: Path, day: dt.date) -> Iterator[Path]:
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
        with writing(out_dir, f"linking {day}"), _links_locked(out_dir):
            tmp.rename(final)
            _relink(out_dir, day, final)


def _relink(out_dir: Path, day: dt.date, final: Path) -> None:
    """Point `<day>` at the run folder `final` and `latest` at the newest week."""
    for dead in out_dir.glob(".*.link-*"):  # only a lock holder makes these: left by a kill
        dead.unlink(missing_ok=True)
    link = out_dir / str(day)
    old = link.resolve() if link.is_symlink() else None
    _point(link, Path(RUNS) / final.name)
    newest = max(
        (p.name for p in out_dir.iterdir() if p.is_symlink() and p.name != LATEST),
        default=str(day),
    )
    _point(out_dir / LATEST, Path(newest))
    if old is not None and old != final.resolve():
        shutil.rmtree(old, ignore_errors=True)


def _links_locked(out_dir: Path) -> contextlib.AbstractContextManager[None]:
    """One run at a time renames a finished folder, repoints links, or prunes.

    Outside the lock every finished run folder already has its link, so pruning (which
    removes unlinked runs as orphans) never removes a folder another run is about to link.
    """
    return locked(Path(out_dir) / RUNS / ".lock")


def _point(link: Path, target: Path) -> None:
    """Make `link` a symbolic link to `target` in one atomic rename."""
    tmp = link.parent / f".{link.name}.link-{os.getpid()}"
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def _prune(out_dir: Path, keep: int, written: dt.date) -> None:
    """Drop all but the newest `keep` scored weeks (0 keeps all) and any orphaned run.

    The week this run has just written is never dropped, even when it is older than the
    newest `keep` (`churn score --as-of` a past Monday).
    """
    with _links_locked(out_dir):
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
    from data.io import read_json

    folder = Path(score_dir) / (str(as_of) if as_of else LATEST)
    if not (folder / "scores.parquet").exists():
        raise ContractError(str(folder), None, "no scored week here: run `churn score` first")
    return pd.read_parquet(folder / "scores.parquet"), read_json(folder / "summary.json")


def _optional_bytes(folder: Path | None, name: str) -> bytes | None:
    path = Path(folder) / name if folder else None
    return path.read_bytes() if path is not None and path.exists() else None


def report(
    score_dir: Path,
    evaluate_dir: Path,
    compare_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: ReportParams,
    as_of: dt.date | None = None,
    monitor_dir: Path | None = None,
) -> Path:
    """One self-contained HTML page for a scored week: `out_dir/<DATE>.html`.

    `monitor_dir` (`outputs/monitor`) adds the monitor's figures when its summary is there.
    """
    from data.io import read_json
    from serving.report import render

    scores, summary = read_scores(score_dir, as_of)
    evaluation = Path(evaluate_dir)
    comparison = Path(compare_dir)

    def optional_json(path: Path) -> dict | None:
        return read_json(path) if path.exists() else None

    def optional_table(path: Path) -> pd.DataFrame | None:
        if not path.exists():
            return None
        return pd.read_parquet(path) if path.suffix == ".parquet" else pd.read_csv(path)

    html = render(
        scores,
        summary,
        params,
        horizon_days=base.horizon_days,
        evaluation=optional_json(evaluation / "metrics.json"),
        reliability=optional_table(evaluation / "plots" / "reliability_all.csv"),
        backtest=optional_table(evaluation / "backtest.csv"),
        comparison=optional_json(comparison / "summary.json"),
        monitor=optional_json(Path(monitor_dir) / "summary.json") if monitor_dir else None,
        monitor_chart=_optional_bytes(monitor_dir, "plots/expected_vs_realized.png"),
    )
    path = Path(out_dir) / f"{summary['as_of']}.html"
    write_text(html, path)
    log.info("report written to %s (%.0f kB)", path, path.stat().st_size / 1024)
    return path
