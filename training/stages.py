"""The `train` and `evaluate` DVC stages: read Interface B, fit, evaluate, write, track."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import time
from pathlib import Path
from typing import Any

import joblib
import pandas as pd

from data.errors import ContractError
from data.io import atomic_dir, read_json, write_json, write_parquet
from data.params import BaseParams
from training import tracking
from training.frames import dvc_plot_frames, feature_lists, labeled, predictions, split_frames
from training.metrics import score
from training.model import ChurnModel
from training.params import EvaluateParams, TrainParams
from training.splits import Splits, make_splits
from training.tuning import tune

log = logging.getLogger(__name__)


def _fit(frames: dict[str, pd.DataFrame], manifest: dict, base: BaseParams, p: TrainParams):
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
    # Refit on all training rows with the tree count early stopping chose on the later fold.
    params = tuned.params | {"n_estimators": tuned.best_iteration}
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
    return model, tuned


def read_features(features_dir: Path) -> tuple[pd.DataFrame, dict[str, Any], str]:
    """Snapshots, manifest, and a digest of both (the exact feature table trained on)."""
    snapshots_path = Path(features_dir) / "snapshots.parquet"
    manifest_path = Path(features_dir) / "manifest.json"
    for path in (snapshots_path, manifest_path):
        if not path.exists():
            raise ContractError(str(path), None, "missing: run `churn features` first")
    digest = hashlib.sha256()
    for path in (snapshots_path, manifest_path):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    snapshots = pd.read_parquet(snapshots_path)
    snapshots["as_of"] = pd.to_datetime(snapshots["as_of"]).dt.date
    return snapshots, read_json(manifest_path), digest.hexdigest()


def train(
    features_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: TrainParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """Split by time, tune, fit and calibrate, gate and register; write model and metrics."""
    snapshots, manifest, digest = read_features(features_dir)
    rows = labeled(snapshots, manifest)
    splits = make_splits(
        sorted(rows["as_of"].unique()),
        manifest["horizon_days"],
        evaluate.test_weeks,
        params.calibration_weeks,
        params.validation_weeks,
        params.min_train_weeks,
    )
    frames = split_frames(rows, splits)
    for name, frame in frames.items():
        log.info("%s: %d rows, churn rate %.4f", name, len(frame), frame["churned"].mean())
    model, tuned = _fit(frames, manifest, base, params)
    test = frames["test"]
    test_metrics = score(
        test["churned"], model.predict_proba(test)[:, 1], test["mrr"], evaluate.ece_bins
    )
    mlflow_dir = Path(mlflow_dir or Path(out_dir).parent / "mlflow")
    tracking.use_store(mlflow_dir, params.experiment)
    gate = tracking.decide_promotion(
        test_metrics["roc_auc"],
        test_metrics["ece"],
        tracking.champion_auc(params.model_name, test, test["churned"].to_numpy()),
        params.gate_max_auc_drop,
        params.gate_max_ece,
    )
    metrics = {
        "test": test_metrics,
        "calibration_log_loss": model.calibration_losses_,
        "validation_log_loss": tuned.best_log_loss,
        "tuning_trials": len(tuned.trials),
        "best_iteration": tuned.best_iteration,
        "gate": {"promoted": gate.promote, "champion_auc": gate.champion_auc},
    }
    meta = {
        "features": model.features,
        "categorical": model.categorical,
        "trained_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "calibration_method": model.calibration_method_,
        "splits": splits.as_dict(),
        "params": tuned.params | {"n_estimators": tuned.best_iteration},
        "features_digest": digest,
        "gate": {"promoted": gate.promote, "reason": gate.reason},
    }
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "model").mkdir()
        joblib.dump(model, tmp / "model" / "model.joblib")
        meta |= _track(model, tmp, frames, tuned, gate, metrics, meta, params, base)
        write_json(meta, tmp / "model" / "model.json")
        write_json(metrics, tmp / "metrics.json")
        cal = predictions(model, frames["calibration"], evaluate.rating_feature)
        write_parquet(cal, tmp / "calibration_predictions.parquet")
    log.info("gate: %s (%s)", "promoted" if gate.promote else "challenger", gate.reason)
    return metrics


def _track(model, tmp: Path, frames, tuned, gate, metrics, meta, params: TrainParams, base) -> dict:
    import mlflow

    tuned.trials.to_csv(tmp / "tuning_trials.csv", index=False)
    with mlflow.start_run() as run:
        mlflow.log_params({f"base.{k}": v for k, v in base.model_dump().items()})
        mlflow.log_params({f"train.{k}": v for k, v in params.model_dump().items()})
        mlflow.log_params({f"split.{k}": v for k, v in meta["splits"].items()})
        mlflow.log_params({f"tuned.{k}": v for k, v in meta["params"].items()})
        mlflow.set_tags(
            {
                "features_digest": meta["features_digest"],
                "calibration_method": meta["calibration_method"],
                "gate": "passed" if gate.promote else "refused",
                "gate_reason": gate.reason,
            }
        )
        mlflow.log_metrics(tracking.flat_metrics(metrics))
        for trial in tuned.trials.itertuples():
            mlflow.log_metric(
                "tuning.validation_log_loss", float(trial.value), step=int(trial.number)
            )
        mlflow.log_artifact(str(tmp / "tuning_trials.csv"))
        example = frames["test"][list(model.features)].head(5)
        version = tracking.log_model(
            tmp / "model" / "model.joblib",
            example,
            list(model.categorical),
            params.model_name,
        )
        tracking.set_alias(params.model_name, version, gate)
    return {
        "mlflow_run_id": run.info.run_id,
        "model_name": params.model_name,
        "experiment": params.experiment,
        "model_version": version,
    }


def load_model(model_dir: Path) -> tuple[ChurnModel, dict[str, Any]]:
    """The saved estimator and its `model.json`, as every consumer loads them."""
    model_dir = Path(model_dir)
    return joblib.load(model_dir / "model.joblib"), read_json(model_dir / "model.json")


def evaluate(
    features_dir: Path,
    train_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: EvaluateParams,
    mlflow_dir: Path | None = None,
) -> dict[str, Any]:
    """The model beside the baselines on the test weeks: metrics, predictions, plots."""
    from training.baselines import fit_baselines, predict_baselines
    from training.plots import curves, figures

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / "model")
    frames = split_frames(labeled(snapshots, manifest), Splits.from_dict(meta["splits"]))
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
    test = frames["test"]
    preds = predictions(model, test, params.rating_feature)
    preds = pd.concat([preds, predict_baselines(fitted, test).reset_index(drop=True)], axis=1)
    columns = {"model": "probability"} | {
        c.removesuffix("_probability"): c for c in preds.columns if c.endswith("_probability")
    }
    metrics: dict[str, Any] = {
        name: score(preds["churned"], preds[col], preds["mrr"], params.ece_bins)
        for name, col in columns.items()
    }
    metrics["model_by_segment"] = {
        str(seg): score(part["churned"], part["probability"], part["mrr"], params.ece_bins)
        for seg, part in preds.groupby("segment", dropna=False)
    }
    metrics["test_period"] = {
        "start": meta["splits"]["test_start"],
        "end": meta["splits"]["test_end"],
    }
    data = curves(preds, columns, params.ece_bins)
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_json(metrics, tmp / "metrics.json")
        write_parquet(preds, tmp / "predictions.parquet")
        for name, frame in dvc_plot_frames(data).items():
            frame.to_csv(tmp / "plots" / f"{name}.csv", index=False)
        for name, fig in figures(data).items():
            fig.savefig(tmp / "plots" / f"{name}.png", dpi=110)
        _track_evaluation(
            meta, metrics, tmp / "plots", mlflow_dir or Path(out_dir).parent / "mlflow"
        )
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
    return metrics


def _track_evaluation(meta: dict, metrics: dict, plots: Path, mlflow_dir: Path) -> None:
    import mlflow

    if not meta.get("mlflow_run_id"):
        return
    tracking.use_store(Path(mlflow_dir), meta.get("experiment", "churn-risk"))
    with mlflow.start_run(run_id=meta["mlflow_run_id"]):
        mlflow.log_metrics(tracking.flat_metrics(metrics, "evaluate."))
        mlflow.log_artifacts(str(plots), "evaluate")
