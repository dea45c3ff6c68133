"""The `backtest` DVC stage: rolling origins, the recipe refitted on what each Monday knew."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.errors import ContractError
from data.io import atomic_dir, write_json, write_parquet
from data.params import BaseParams
from evaluation.params import BacktestParams
from evaluation.stages.common import records, save_figures
from features.manifest import Manifest
from features.snapshots import SNAPSHOTS, read_features
from training.bundle import PRODUCTION, ModelMeta, load_model
from training.frames import known_on, labeled, predictions
from training.params import EvaluateParams, TrainParams
from training.production import Recipe, fit_production, production_rows
from training.tracking import attach_to_run

log = logging.getLogger(__name__)


def backtest(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: BacktestParams,
    train_params: TrainParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path,
) -> dict[str, Any]:
    """Rolling origins over the last year: the recipe refitted on what each Monday knew."""
    import evaluation.backtest as bt

    snapshots, manifest, _ = read_features(features_dir)
    _, meta = load_model(Path(train_dir) / PRODUCTION)
    rows = labeled(snapshots, manifest)
    weeks, skipped, tried = _replay(rows, manifest, meta, params, train_params, evaluate)
    if weeks is None:
        raise ContractError(
            str(Path(features_dir) / SNAPSHOTS),
            "as_of",
            f"no backtest origin has enough labeled weeks before it ({tried} tried)",
        )
    lists = bt.backtest(weeks, k_fixed=params.call_list)
    table = bt.origin_metrics(weeks, lists, evaluate.ece_bins, f"top_{params.call_list}")
    test = (meta.vouched_by or {}).get("test_metrics", {})
    pooled = bt.pooled_summary(weeks, lists, evaluate.ece_bins)
    summary: dict[str, Any] = {
        "origins": records(table),
        "pooled": pooled,
        "test_weeks": {k: test.get(k) for k in bt.HEADLINE},
        "skipped": skipped,
        "recipe_of": {"model_version": meta.model_version, "role": meta.role},
    }
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_parquet(weeks, tmp / "weeks.parquet")
        lists.to_csv(tmp / "lists.csv", index=False)
        table.to_csv(tmp / "origins.csv", index=False)
        write_json(summary, tmp / "summary.json")
        save_figures({"origins": bt.origins_figure(table, test.get("roc_auc"))}, tmp / "plots")
        files = {tmp / name: "backtest" for name in ("origins.csv", "lists.csv", "summary.json")}
        files[tmp / "plots"] = "backtest"
        attach_to_run(meta, mlflow_dir, files, pooled, "backtest.")
    _log_origins(table, pooled)
    return summary


def _replay(
    rows: pd.DataFrame,
    manifest: Manifest,
    meta: ModelMeta,
    params: BacktestParams,
    train_params: TrainParams,
    evaluate: EvaluateParams,
) -> tuple[pd.DataFrame | None, list[dict[str, str]], int]:
    """Each origin's refit and its scored weeks; the origins skipped, and how many were tried."""
    import evaluation.backtest as bt
    from data.console import progress

    recipe = Recipe.from_dict(meta.recipe)
    picks = bt.origins(
        sorted(rows["as_of"].unique()), params.span_weeks, params.every_weeks, params.scored_weeks
    )
    scored, skipped = [], []
    for origin in progress(picks, desc="backtest", unit="origin"):
        known = known_on(rows, origin.day, manifest)
        try:
            fitted = fit_production(
                recipe,
                production_rows(known, manifest),
                manifest.horizon_days,
                train_params.calibration_weeks,
                train_params.refit_calibration_blocks,
            )
        except ValueError as err:  # too few weeks known on this origin
            skipped.append({"origin": str(origin.day), "reason": str(err)})
            log.warning("origin %s skipped: %s", origin.day, err)
            continue
        week = rows[rows["as_of"].isin(set(origin.scored))]
        preds = predictions(fitted.model, week, evaluate.rating_feature)
        preds["churn_date"] = week["churn_date"].to_numpy()
        scored.append(preds.assign(origin=origin.day, data_through=fitted.data_through))
    weeks = pd.concat(scored, ignore_index=True) if scored else None
    return weeks, skipped, len(picks)


def _log_origins(table: pd.DataFrame, pooled: dict[str, Any]) -> None:
    for row in table.itertuples():
        log.info(
            "origin %s: %d rows, AUC %.3f, Brier %.4f, ECE %.4f, call list %.0f%% churned "
            "(managers' list %.0f%%)",
            row.origin,
            row.rows,
            row.roc_auc,
            row.brier,
            row.ece,
            100 * getattr(row, "model_call_list_precision", np.nan),
            100 * getattr(row, "managers_call_list_precision", np.nan),
        )
    log.info(
        "pooled over %d origins: AUC %.3f, Brier %.4f, ECE %.4f",
        pooled["origins"],
        pooled["roc_auc"],
        pooled["brier"],
        pooled["ece"],
    )
