"""What `train` records of each saved model: its `model.json` fields and its MLflow run."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from data.params import BaseParams
from features.manifest import Manifest
from training import registry, tracking
from training.bundle import ModelMeta
from training.model import ChurnModel
from training.params import EvaluateParams, TrainParams
from training.production import Production, Recipe, production_rows
from training.profile import PROFILE_KEY, profile_rows
from training.splits import Splits
from training.tiers import fit_tiers


def model_meta(
    model: ChurnModel,
    manifest: Manifest,
    entries: list[dict[str, Any]],
    digest: str,
    recipe: Recipe,
    gate: registry.Gate,
    params: TrainParams,
) -> dict[str, Any]:
    """`model.json` fields every saved model has, whichever rows it was fitted on."""
    return {
        "features": model.features,
        "categorical": model.categorical,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "calibration_method": model.calibration_method_,
        "params": model.trees_.params,
        "recipe": recipe.as_dict(),
        "features_digest": digest,
        "gate": {"promoted": gate.promote, "reason": gate.reason},
        "feature_manifest": entries,
        "horizon_days": manifest.horizon_days,
        "model_name": params.model_name,
        "experiment": params.experiment,
    }


def evaluated_fields(
    train: pd.DataFrame, cal: pd.DataFrame, splits: Splits, entries: list[dict[str, Any]]
) -> dict[str, Any]:
    """The evaluated model's own `model.json` fields: its data, splits, tiers and profile."""
    return {
        "role": "evaluated",
        "data_through": splits.calibration.end.isoformat(),
        "splits": splits.as_dict(),
        "tiers": fit_tiers(cal["probability"], cal["manager_rating"]),
        # Scores of weeks the model never saw (the calibration weeks): what the monitor
        # compares a new week's scores with.
        PROFILE_KEY: profile_rows(train, entries, scores=cal["probability"].to_numpy()).as_dict(),
    }


def production_fields(
    production: Production,
    rows: pd.DataFrame,
    manifest: Manifest,
    entries: list[dict[str, Any]],
    splits: Splits,
    evaluate: EvaluateParams,
) -> dict[str, Any]:
    """The production model's own `model.json` fields: its data, calibration blocks, tiers."""
    oof = production.calibration
    ratings = oof.get(evaluate.rating_feature, pd.Series(np.nan, oof.index)).astype("Float64")
    return {
        "role": "production",
        "data_through": production.data_through.isoformat(),
        "fitted_from": production.fitted_from.isoformat(),
        "calibration_blocks": [[str(b.start), str(b.end)] for b in production.blocks],
        "splits": splits.as_dict(),
        "tiers": fit_tiers(oof["probability"], ratings.to_numpy(dtype=float, na_value=np.nan)),
        PROFILE_KEY: profile_rows(
            production_rows(rows, manifest), entries, scores=oof["probability"].to_numpy()
        ).as_dict(),
    }


def track(
    model: ChurnModel,
    meta: ModelMeta,
    table: Any,
    example: pd.DataFrame,
    tuned: Any,
    metrics: dict[str, Any],
    params: TrainParams,
    base: BaseParams,
) -> dict[str, Any]:
    """One MLflow run per saved model (`evaluated`, then `production`), registered.

    The run is named for what ran ("train evaluated, data through 2025-06-30"); its input is
    the feature table (`table`, an MLflow dataset); the evaluated run also logs its tuning
    trials (`tuned`).
    """
    import mlflow

    role = meta.role
    with mlflow.start_run(run_name=f"train {role}, data through {meta.data_through}") as run:
        mlflow.log_input(table, context="training")
        mlflow.log_params({f"base.{k}": v for k, v in base.model_dump().items()})
        mlflow.log_params({f"train.{k}": v for k, v in params.model_dump().items()})
        mlflow.log_params({f"split.{k}": v for k, v in meta.splits.items()})
        mlflow.log_params({f"tuned.{k}": v for k, v in meta.params.items()})
        tags = {
            "role": role,
            "data_through": meta.data_through,
            "features_digest": meta.features_digest,
            "calibration_method": meta.calibration_method,
            "gate": "passed" if meta.gate["promoted"] else "refused",
            "gate_reason": meta.gate["reason"],
        }
        mlflow.set_tags(tags)
        if tuned is not None:
            mlflow.log_metrics(tracking.flat_metrics(metrics))
            for trial in tuned.trials.itertuples():
                mlflow.log_metric(
                    "tuning.validation_log_loss", float(trial.value), step=int(trial.number)
                )
            mlflow.log_text(tuned.trials.to_csv(index=False), "tuning_trials.csv")
        else:
            mlflow.log_metrics(tracking.flat_metrics(metrics["production"], "production."))
        version = registry.log_model(model, meta.tiers, example, meta.model_name)
        registry.tag_version(meta.model_name, version, tags)
    return {"mlflow_run_id": run.info.run_id, "model_version": version}
