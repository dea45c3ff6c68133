"""The `explain` DVC stage: why each account is at risk, on the test weeks and the latest week."""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from data.io import atomic_dir, write_json, write_parquet
from data.params import BaseParams
from evaluation.params import ExplainParams
from evaluation.stages.common import save_figures
from features.snapshots import read_features
from training.bundle import EVALUATED, load_model
from training.splits import Period, Splits

if TYPE_CHECKING:
    from evaluation.explain import Explanation
from training.tracking import attach_to_run

log = logging.getLogger(__name__)


def explain(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: ExplainParams,
    mlflow_dir: Path,
) -> dict[str, Any]:
    """Drivers of the test weeks and the latest week: reasons per account, global plots."""
    from data.console import progress
    from evaluation.explain import (
        explain_batches,
        global_importance,
        reason_frame,
        shap_explanation,
    )
    from evaluation.plots import explain_figures

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / EVALUATED)
    test = Splits.from_dict(meta.splits).test
    latest = snapshots["as_of"].max()
    rows = snapshots[test.contains(snapshots["as_of"]) | (snapshots["as_of"] == latest)]
    rows = rows.sort_values(["as_of", "account_id"]).reset_index(drop=True)
    started = time.perf_counter()
    explained = explain_batches(
        model, rows, params.batch_rows, lambda it: progress(it, desc="explain", unit="batch")
    )
    reasons = reason_frame(
        explained, rows, manifest, params.reasons_up, params.reasons_down, params.min_contribution
    )
    seconds = time.perf_counter() - started
    descriptions = manifest.descriptions()
    importance = global_importance(explained, [descriptions[f] for f in explained.features])
    sample = rows.sample(min(params.plot_rows, len(rows)), random_state=base.seed).index
    shap_values = shap_explanation(
        explained.take(sample.to_numpy()),
        model.trees_.columns_.transform(rows.loc[sample]),
        [descriptions[f] for f in explained.features],
    )
    summary = _summary(rows, test, latest, seconds, explained, importance)
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_parquet(explained.frame(rows[["account_id", "as_of"]]), tmp / "contributions.parquet")
        write_parquet(reasons, tmp / "reasons.parquet")
        importance.to_csv(tmp / "plots" / "importance.csv", index=False)
        figs = explain_figures(
            shap_values, importance, params.dependence_plots, model.trees_.columns_.categories_
        )
        save_figures(figs, tmp / "plots")
        write_json(summary, tmp / "summary.json")
        attach_to_run(meta, mlflow_dir, {tmp / "plots": "explain"})
    log.info(
        "explained %d rows in %.1fs (%s rows/s)", len(rows), seconds, summary["rows_per_second"]
    )
    return summary


def _summary(
    rows: pd.DataFrame,
    test: Period,
    latest: dt.date,
    seconds: float,
    explained: Explanation,
    importance: pd.DataFrame,
) -> dict[str, Any]:
    """What `summary.json` says: the rows and weeks explained, the speed, the top features."""
    return {
        "rows": len(rows),
        "weeks": {"test_start": str(test.start), "test_end": str(test.end), "latest": str(latest)},
        "seconds": round(seconds, 2),
        "rows_per_second": round(len(rows) / max(seconds, 1e-9)),
        "base_probability": explained.base_probability,
        "top_features": importance.head(10)[["feature", "mean_abs_probability"]].to_dict("records"),
    }
