"""The model that scores: the registry's champion, as every consumer loads it."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the API asks "is there a champion?" long before it needs the training code
    from training.bundle import ModelMeta
    from training.model import ChurnModel

log = logging.getLogger(__name__)

ARTIFACT_PATH = "churn"  # where `train` puts model.joblib and model.json inside its run


def load_scoring_model(
    train_dir: Path, mlflow_dir: Path | None, source: str = "champion"
) -> tuple[ChurnModel, ModelMeta]:
    """The champion (or `train_dir`'s production model when `source` is "train").

    The champion is of the model `train_dir`'s `train` registered (`registered_names`).
    The local production model (`train_dir/production`: the evaluated recipe refitted on every
    labeled week) is used when it is the champion; otherwise the champion's files are fetched
    from its MLflow run. Without any champion the local one is used, with a warning, so a
    first run still scores.
    """
    from training.bundle import PRODUCTION, load_model, registered_names

    local = Path(train_dir) / PRODUCTION
    if source == "train":
        model, meta = load_model(local)
        return model, meta.with_(alias="local")
    version = champion_version(mlflow_dir, train_dir) if mlflow_dir is not None else None
    model_name = registered_names(train_dir)[0]
    if version is None:
        log.warning("no champion of %s registered; scoring with %s", model_name, local)
        model, meta = load_model(local)
        promoted = meta.gate.get("promoted")
        return model, meta.with_(alias="champion" if promoted else "challenger")
    log.info("champion %s version %s from run %s", model_name, version.version, version.run_id)
    model, meta = load_run_model(train_dir, Path(str(mlflow_dir)), version.run_id)
    return model, meta.with_(alias="champion")


def load_run_model(train_dir: Path, mlflow_dir: Path, run_id: str) -> tuple[ChurnModel, ModelMeta]:
    """The model an MLflow run logged: a local copy when `train_dir` holds it, else fetched."""
    from training.bundle import EVALUATED, PRODUCTION, load_model, registered_names

    for local in (Path(train_dir) / PRODUCTION, Path(train_dir) / EVALUATED):
        if (local / "model.json").exists():
            model, meta = load_model(local)
            if meta.mlflow_run_id == run_id:
                return model, meta
    import mlflow

    from training import tracking

    if not (Path(mlflow_dir) / "mlflow.db").exists() and not os.environ.get("MLFLOW_TRACKING_URI"):
        raise FileNotFoundError(f"run {run_id} is neither in {train_dir} nor in an MLflow store")
    tracking.use_store(Path(mlflow_dir), registered_names(train_dir)[1])
    folder = mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=ARTIFACT_PATH)
    return load_model(Path(folder))


def champion_version(mlflow_dir: Path, train_dir: Path) -> Any:
    """The version the `champion` alias points at, of the model `train_dir`'s `train` registered.

    None when there is none (or no store).
    """
    if not (Path(mlflow_dir) / "mlflow.db").exists() and not os.environ.get("MLFLOW_TRACKING_URI"):
        return None
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    from training import registry, tracking
    from training.bundle import registered_names

    model_name, experiment = registered_names(train_dir)
    tracking.use_store(Path(mlflow_dir), experiment)
    try:
        return MlflowClient().get_model_version_by_alias(model_name, registry.CHAMPION)
    except MlflowException:
        return None
