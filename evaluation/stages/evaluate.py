"""The `evaluate` DVC stage: the model beside the baselines on the test weeks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pandas as pd

from data.io import atomic_dir, write_json, write_parquet
from data.params import BaseParams
from evaluation.curve import (
    CURVE_TEST,
    curve_figures,
    curve_metrics,
    judged_rows,
    monotone_share,
    with_curve,
)
from evaluation.stages.common import save_figures
from features.manifest import Manifest
from features.snapshots import read_features
from training.bundle import EVALUATED, ModelMeta, load_model
from training.frames import dvc_plot_frames, feature_lists, labeled, predictions, split_frames
from training.metrics import score
from training.params import EvaluateParams
from training.splits import Splits
from training.tiers import assign_tiers
from training.tracking import attach_to_run

log = logging.getLogger(__name__)


def evaluate(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: EvaluateParams,
    mlflow_dir: Path,
) -> dict[str, Any]:
    """The model beside the baselines on the test weeks: metrics, predictions, plots."""
    from evaluation.backtest import backtest, backtest_figure, backtest_summary
    from evaluation.plots import curves, figures

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / EVALUATED)
    splits = Splits.from_dict(meta.splits)
    frames = split_frames(labeled(snapshots, manifest), splits)
    test = frames["test"]
    preds = predictions(model, test, params.rating_feature)
    preds["tier"] = assign_tiers(preds["probability"], meta.tiers)
    preds = pd.concat([preds, _baselines(frames, manifest, base, params)], axis=1)
    columns = {"model": "probability"} | {
        c.removesuffix("_probability"): c for c in preds.columns if c.endswith("_probability")
    }
    metrics = _metrics(preds, columns, params.ece_bins, meta)
    preds = with_curve(preds, model, test, manifest)
    curve_rows = judged_rows(model, snapshots, manifest, splits.test)
    metrics["curve"] = curve_metrics(curve_rows, params.ece_bins) if len(curve_rows) else {}
    metrics["curve_monotone_share"] = monotone_share(preds, list(base.horizons_days))
    replay = backtest(preds.assign(churn_date=test["churn_date"].to_numpy()))
    metrics["backtest"] = backtest_summary(replay)
    data = curves(preds, columns, params.ece_bins)
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_json(metrics, tmp / "metrics.json")
        write_parquet(preds, tmp / "predictions.parquet")
        write_parquet(curve_rows, tmp / CURVE_TEST)
        for name, frame in dvc_plot_frames(data).items():
            frame.to_csv(tmp / "plots" / f"{name}.csv", index=False)
        replay.to_csv(tmp / "backtest.csv", index=False)
        replayed = backtest_figure(replay, meta.horizon(manifest.horizon_days))
        shown = figures(data) | {"backtest": replayed} | curve_figures(curve_rows, params.ece_bins)
        save_figures(shown, tmp / "plots")
        files = {tmp / "plots": "evaluate", tmp / "backtest.csv": "evaluate"}
        attach_to_run(meta, mlflow_dir, files, metrics, "evaluate.")
    _log_metrics(metrics, columns)
    return metrics


def _baselines(
    frames: dict[str, pd.DataFrame],
    manifest: Manifest,
    base: BaseParams,
    params: EvaluateParams,
) -> pd.DataFrame:
    """The baselines' probabilities on the test weeks, fitted on the model's own weeks."""
    from evaluation.baselines import fit_baselines, predict_baselines

    features, categorical = feature_lists(manifest)
    fitted = fit_baselines(
        frames["train"],
        frames["calibration"],
        features,
        categorical,
        params.rating_feature,
        params.contact_feature,
        base.seed,
    )
    return predict_baselines(fitted, frames["test"]).reset_index(drop=True)


def _metrics(
    preds: pd.DataFrame, columns: dict[str, str], bins: int, meta: ModelMeta
) -> dict[str, Any]:
    """Every scorer's figures, the model's per segment, and the test period."""
    metrics: dict[str, Any] = {
        name: score(preds["churned"], preds[col], preds["mrr"], bins)
        for name, col in columns.items()
    }
    metrics["model_by_segment"] = {
        str(seg): score(part["churned"], part["probability"], part["mrr"], bins)
        for seg, part in preds.groupby("segment", dropna=False)
    }
    metrics["test_period"] = {
        "start": meta.splits["test_start"],
        "end": meta.splits["test_end"],
    }
    return metrics


def _log_metrics(metrics: dict[str, Any], columns: dict[str, str]) -> None:
    for name in columns:
        m = metrics[name]
        log.info(
            "%-20s AUC %.4f  Brier %.4f  ECE %.4f  lift %.2f",
            name,
            m["roc_auc"],
            m["brier"],
            m["ece"],
            m["top_decile_lift"],
        )
    for target, m in metrics.get("curve", {}).items():
        log.info(
            "curve %-11s AUC %.4f  Brier %.4f  ECE %.4f  %d rows %s..%s, %.1f%% repaired",
            target,
            m["roc_auc"],
            m["brier"],
            m["ece"],
            m["rows"],
            m["test_start"],
            m["test_end"],
            100 * m["repaired_share"],
        )
