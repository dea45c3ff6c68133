"""The model that scores: the registry's champion, as every consumer loads it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the API asks "is there a champion?" long before it needs the training code
    from training.model import ChurnModel

log = logging.getLogger(__name__)

ARTIFACT_PATH = "churn"  # where `train` puts model.joblib and model.json inside its run


def load_scoring_model(
    train_dir: Path, mlflow_dir: Path, model_name: str, source: str = "champion"
) -> tuple[ChurnModel, dict[str, Any]]:
    """The champion of `model_name` (or `train_dir`'s production model when `source` is "train").

    The local production model (`train_dir/production`: the evaluated recipe refitted on every
    labeled week) is used when it is the champion; otherwise the champion's files are fetched
    from its MLflow run. Without any champion the local one is used, with a warning, so a
    first run still scores.
    """
    from training.bundle import PRODUCTION, load_model

    local = Path(train_dir) / PRODUCTION
    if source == "train":
        return load_model(local)
    version = champion_version(mlflow_dir, model_name)
    if version is None:
        log.warning("no champion of %s registered; scoring with %s", model_name, local)
        model, meta = load_model(local)
        promoted = meta.get("gate", {}).get("promoted")
        return model, meta | {"alias": "champion" if promoted else "challenger"}
    log.info("champion %s version %s from run %s", model_name, version.version, version.run_id)
    model, meta = load_run_model(train_dir, mlflow_dir, version.run_id)
    return model, meta | {"alias": "champion"}


def load_run_model(
    train_dir: Path, mlflow_dir: Path, run_id: str
) -> tuple[ChurnModel, dict[str, Any]]:
    """The model an MLflow run logged: a local copy when `train_dir` holds it, else fetched."""
    from training.bundle import PRODUCTION, load_model

    for local in (Path(train_dir) / PRODUCTION, Path(train_dir) / "model"):
        if (local / "model.json").exists():
            model, meta = load_model(local)
            if meta.get("mlflow_run_id") == run_id:
                return model, meta
    import mlflow

    from training import tracking

    if not (Path(mlflow_dir) / "mlflow.db").exists() and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise FileNotFoundError(f"run {run_id} is neither in {train_dir} nor in an MLflow store")
    tracking.use_store(Path(mlflow_dir), "churn-risk")
    folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=ARTIFACT_PATH)
    return load_model(Path(folder))


def champion_version(mlflow_dir: Path, model_name: str) -> Any:
    """The registered version the `champion` alias points at, or None."""
    if not (Path(mlflow_dir) / "mlflow.db").exists() and not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training import registry, tracking

    tracking.use_store(Path(mlflow_dir), "churn-risk")
    try:
        return MlflowClient().get_model_version_by_alias(model_name, registry.CHAMPION)
    except MlflowException:
        return None
