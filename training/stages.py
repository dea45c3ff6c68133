"""The `train` DVC stage: read Interface B, tune, fit and calibrate, gate, register, write."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from data.errors import ContractError
from data.io import atomic_dir, write_json, write_parquet
from data.params import BaseParams
from features.manifest import Manifest
from features.snapshots import SNAPSHOTS, read_features
from training import registry, tracking
from training.bundle import EVALUATED, META, MODEL_FILE, PRODUCTION, PRODUCTION_CAL, ModelMeta
from training.curve_fit import fit_curves
from training.frames import feature_lists, full_windows_from, labeled, predictions, split_frames
from training.metrics import score
from training.model import ChurnModel
from training.params import EvaluateParams, TrainParams
from training.production import (
    Production,
    Recipe,
    calibration_rows,
    fit_production,
    production_metrics,
    production_rows,
)
from training.runs import evaluated_fields, model_meta, production_fields, track
from training.splits import Splits, make_splits
from training.tuning import tune

log = logging.getLogger(__name__)


def _fit(frames: dict[str, pd.DataFrame], manifest: Manifest, base: BaseParams, p: TrainParams):
    features, categorical = feature_lists(manifest)
    started = time.perf_counter()
    tuned = tune(
        frames["inner"],
        frames["validation"],
        features,
        categorical,
        p.booster_params(),
        n_trials=p.n_trials,
        timeout_seconds=p.tuning_minutes * 60,
        early_stopping_rounds=p.early_stopping_rounds,
        seed=base.seed,
    )
    # The recipe: the tuned parameters and the tree count early stopping chose on the later
    # fold, kept for every later fit (all training rows, the production model's folds).
    recipe = Recipe(
        features=features,
        categorical=categorical,
        params={k: v for k, v in tuned.params.items() if k != "n_estimators"},
        rounds=tuned.best_iteration,
        calibration_method="none",
        seed=base.seed,
    )
    params = recipe.params | {"n_estimators": recipe.rounds}
    model = ChurnModel(
        features,
        categorical,
        params,
        p.early_stopping_rounds,
        p.calibration_methods,
        p.calibration_folds,
        base.seed,
    )
    cal = frames["calibration"]
    model.fit(
        frames["train"],
        frames["train"]["churned"],
        calibration_set=(cal, cal["churned"]),
        calibration_groups=cal["as_of"].astype(str),
    )
    log.info(
        "fitted in %.0fs; calibration log loss %s -> %s",
        time.perf_counter() - started,
        model.calibration_losses_,
        model.calibration_method_,
    )
    return model, tuned, replace(recipe, calibration_method=model.calibration_method_)


def train(
    features_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: TrainParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path,
) -> dict[str, Any]:
    """Split by time, tune, fit and calibrate, gate and register; write model and metrics."""
    snapshots, manifest, digest = read_features(features_dir)
    rows = labeled(snapshots, manifest)
    splits, frames = _split(rows, manifest, features_dir, params, evaluate)
    model, tuned, recipe = _fit(frames, manifest, base, params)
    test_metrics, gate = _judge(model, frames["test"], Path(mlflow_dir), params, evaluate)
    cal = predictions(model, frames["calibration"], evaluate.rating_feature)
    entries = [f for f in manifest.features if f["name"] in model.features]
    meta = ModelMeta(
        **model_meta(model, manifest, entries, digest, recipe, gate, params)
        | evaluated_fields(frames["train"], cal, splits, entries)
    )
    production = _fit_production(rows, manifest, recipe, params)
    # The risk curve travels inside each headline model (`training/curve.py`).
    model.curve_, production.model.curve_, curve = fit_curves(
        snapshots, manifest, recipe, splits.test, base, params, evaluate
    )
    prod_meta = ModelMeta(
        **model_meta(production.model, manifest, entries, digest, recipe, gate, params)
        | production_fields(production, rows, manifest, entries, splits, evaluate)
    )
    metrics = {
        "test": test_metrics,
        "calibration_log_loss": model.calibration_losses_,
        "validation_log_loss": tuned.best_log_loss,
        "tuning_trials": len(tuned.trials),
        "best_iteration": tuned.best_iteration,
        "rounds": int(meta.params["n_estimators"]),
        "gate": {"promoted": gate.promote, "champion_auc": gate.champion_auc},
        "production": production_metrics(production, evaluate.ece_bins),
        "curve": curve,
    }
    saved = _Saved(model, meta, production, prod_meta, tuned, metrics)
    with atomic_dir(Path(out_dir)) as tmp:
        meta, prod_meta = _write(
            tmp, saved, snapshots, features_dir, digest, frames, cal, base, params, evaluate
        )
        registry.set_lineage(prod_meta, gate)
        for folder, document in ((EVALUATED, meta), (PRODUCTION, prod_meta)):
            document.save(tmp / folder / META)
            # The scorer and the API fetch a champion's files from its run (ARTIFACT_PATH).
            tracking.attach_to_run(document, Path(mlflow_dir), {tmp / folder: "churn"})
    log.info(
        "gate: %s (%s); production version %s learned up to %s",
        "promoted" if gate.promote else "challenger",
        gate.reason,
        prod_meta.model_version,
        prod_meta.data_through,
    )
    return metrics


def _judge(
    model: ChurnModel,
    test: pd.DataFrame,
    mlflow_dir: Path,
    params: TrainParams,
    evaluate: EvaluateParams,
) -> tuple[dict[str, Any], registry.Gate]:
    """The test weeks' figures, and the promotion gate against the registry's champion."""
    test_metrics = score(
        test["churned"], model.predict_proba(test)[:, 1], test["mrr"], evaluate.ece_bins
    )
    tracking.use_store(mlflow_dir, params.experiment)
    gate = registry.decide_promotion(
        test_metrics["roc_auc"],
        test_metrics["ece"],
        registry.champion_auc(params.model_name, test, test["churned"].to_numpy()),
        params.gate_max_auc_drop,
        params.gate_max_ece,
    )
    return test_metrics, gate


def _split(
    rows: pd.DataFrame,
    manifest: Manifest,
    features_dir: Path,
    params: TrainParams,
    evaluate: EvaluateParams,
) -> tuple[Splits, dict[str, pd.DataFrame]]:
    """The time splits and their frames; a period without both outcomes stops the run."""
    splits = make_splits(
        sorted(rows["as_of"].unique()),
        manifest.horizon_days,
        evaluate.test_weeks,
        params.calibration_weeks,
        params.validation_weeks,
        params.min_train_weeks,
    )
    frames = split_frames(rows, splits, full_windows_from(manifest))
    for name, frame in frames.items():
        log.info("%s: %d rows, churn rate %.4f", name, len(frame), frame["churned"].mean())
    for name in ("inner", "validation", "calibration"):  # `train` is inner + gap + validation
        labels = frames[name]["churned"]
        if labels.nunique() < 2:
            dates = frames[name]["as_of"]
            held = "no churn" if labels.sum() == 0 else "only churns"
            raise ContractError(
                str(Path(features_dir) / SNAPSHOTS),
                "churned",
                f"the {name} weeks ({dates.min()} to {dates.max()}, {len(labels)} rows) hold "
                f"{held}: a model needs churned and retained accounts in every period",
            )
    return splits, frames


@dataclass
class _Saved:
    """The two fitted models of a `train` run, their documents, the tuning and the metrics."""

    model: ChurnModel
    meta: ModelMeta
    production: Production
    prod_meta: ModelMeta
    tuned: Any
    metrics: dict[str, Any]


def _write(
    tmp: Path,
    saved: _Saved,
    snapshots: pd.DataFrame,
    features_dir: Path,
    digest: str,
    frames: dict[str, pd.DataFrame],
    cal: pd.DataFrame,
    base: BaseParams,
    params: TrainParams,
    evaluate: EvaluateParams,
) -> tuple[ModelMeta, ModelMeta]:
    """The models, their MLflow runs and versions, the tuning trials and the calibration rows.

    Returns the two documents with their runs and registered versions.
    """
    model, meta, production, prod_meta = saved.model, saved.meta, saved.production, saved.prod_meta
    for folder, fitted in ((EVALUATED, model), (PRODUCTION, production.model)):
        (tmp / folder).mkdir()
        joblib.dump(fitted, tmp / folder / MODEL_FILE)
    saved.tuned.trials.to_csv(tmp / "tuning_trials.csv", index=False)
    table = tracking.feature_table(snapshots, Path(features_dir) / SNAPSHOTS, digest)
    example = frames["test"][list(model.features)].head(5)
    meta = meta.with_(
        **track(model, meta, table, example, saved.tuned, saved.metrics, params, base)
    )
    tracked = track(production.model, prod_meta, table, example, None, saved.metrics, params, base)
    vouched = {
        "model_version": meta.model_version,
        "mlflow_run_id": meta.mlflow_run_id,
        "test_metrics": saved.metrics["test"],
    }
    prod_meta = prod_meta.with_(**tracked, vouched_by=vouched)
    write_json(saved.metrics, tmp / "metrics.json")
    write_parquet(cal, tmp / "calibration_predictions.parquet")
    oof_rows = calibration_rows(production.calibration, evaluate.rating_feature)
    write_parquet(oof_rows, tmp / PRODUCTION_CAL)
    return meta, prod_meta


def _fit_production(
    rows: pd.DataFrame, manifest: Manifest, recipe: Recipe, params: TrainParams
) -> Production:
    started = time.perf_counter()
    production = fit_production(
        recipe,
        production_rows(rows, manifest),
        manifest.horizon_days,
        params.calibration_weeks,
        params.refit_calibration_blocks,
    )
    log.info("production model fitted in %.0fs", time.perf_counter() - started)
    return production
