"""The `score` and `report` DVC stages: the weekly list, and the page the meeting reads.

Where the scored weeks are kept, and how a run replaces one safely, is `serving.weeks`.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from data.errors import ContractError
from data.io import write_json, write_parquet, write_text
from data.params import BaseParams
from features.manifest import Manifest
from features.snapshots import SNAPSHOTS
from serving.params import ReportParams, ScoreParams
from serving.skew import SkewCheck, check_skew
from serving.weeks import prune, read_scores, week_folder

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger(__name__)

__all__ = ["read_scores", "report", "score"]  # read_scores: imported from here by tests


def score(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: ScoreParams,
    as_of: dt.date | None = None,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Score every account active on `as_of` (default: the latest snapshot) with the champion.

    `mlflow_dir` is the store whose registry names the champion; without one (or with
    `score.model: train`) `train_dir`'s production model scores.
    """
    from data.console import progress
    from features.snapshots import read_features
    from serving.models import load_scoring_model
    from serving.scoring import csv_frame, score_week

    snapshots, manifest, _ = read_features(features_dir)
    day, previous_day = _days(snapshots, features_dir, as_of)
    out_dir = Path(out_dir)
    model, meta = load_scoring_model(train_dir, mlflow_dir, params.model)
    week = snapshots[snapshots["as_of"] == day]
    previous = snapshots[snapshots["as_of"] == previous_day] if previous_day else None
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
    prev_scores = None
    if previous is not None:
        prev_scores = previous[["account_id", "mrr"]].assign(
            probability=model.predict_proba(previous)[:, 1]
        )
    summary = _summary(scores, prev_scores, meta, manifest, params, day, previous_day)
    summary["skew"] = _skew(meta, manifest, week, params, day).model_dump(mode="json")
    with week_folder(out_dir, day) as tmp:
        write_parquet(scores, tmp / "scores.parquet")
        csv_frame(scores).to_csv(tmp / "scores.csv", index=False)
        write_json(summary, tmp / "summary.json")
    prune(out_dir, params.keep_weeks, day)
    log.info(
        "scored %d accounts on %s: expected churned MRR %.0f within %d days; tiers %s",
        len(scores),
        day,
        summary["expected_churned_mrr"],
        summary["horizon_days"],
        summary["accounts_by_tier"],
    )
    return summary


def _days(
    snapshots: pd.DataFrame, features_dir: Path, as_of: dt.date | None
) -> tuple[dt.date, dt.date | None]:
    """The snapshot date to score (default: the latest) and the one before it, if any."""
    dates = sorted(snapshots["as_of"].unique())
    if not dates:
        raise ContractError(str(features_dir), "as_of", "no snapshot to score")
    day = as_of or dates[-1]
    if day not in set(dates):
        raise ContractError(
            str(Path(features_dir) / SNAPSHOTS),
            "as_of",
            f"--as-of {day} is not a snapshot date (weekly, {dates[0]} .. {dates[-1]})",
        )
    earlier = [d for d in dates if d < day]
    return day, earlier[-1] if earlier else None


def _summary(
    scores: pd.DataFrame,
    prev_scores: pd.DataFrame | None,
    meta: ModelMeta,
    manifest: Manifest,
    params: ScoreParams,
    day: dt.date,
    previous_day: dt.date | None,
) -> dict[str, Any]:
    """The scored week's summary.json, but for its skew check."""
    from serving.scoring import week_summary

    return week_summary(scores, prev_scores) | {
        "as_of": str(day),
        "previous_as_of": str(previous_day) if previous_day else None,
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
        # The reason settings, so the API's live reasons say what this week's batch said.
        "reasons_up": params.reasons_up,
        "reasons_down": params.reasons_down,
        "min_contribution": params.min_contribution,
    }


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
