"""MLflow tracking: the embedded store, the runs, their metrics, inputs and files."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from training.bundle import ModelMeta

log = logging.getLogger(__name__)


def tracking_uri(store: Path) -> str:
    """`MLFLOW_TRACKING_URI` if set, else an embedded SQLite store in `store`."""
    if os.environ.get("MLFLOW_TRACKING_URI"):
        return os.environ["MLFLOW_TRACKING_URI"]
    store.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{(store / 'mlflow.db').resolve()}"


def use_store(store: Path, experiment: str) -> None:
    """Point MLflow at the store and select (or create) the experiment."""
    import mlflow

    logging.getLogger("alembic").setLevel(logging.WARNING)
    before = os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(tracking_uri(store))
    # MLflow also exports the URI to the environment; put back the user's own setting (or its
    # absence), or the next stage run in this process would be sent to this store.
    if before is None:
        os.environ.pop("MLFLOW_TRACKING_URI", None)
    else:
        os.environ["MLFLOW_TRACKING_URI"] = before
    if mlflow.get_experiment_by_name(experiment) is None:
        mlflow.create_experiment(experiment, (store / "artifacts").resolve().as_uri())
    mlflow.set_experiment(experiment)


def flat_metrics(metrics: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Nested metric dicts to MLflow's flat `a.b` names, numbers only."""
    flat: dict[str, float] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}".replace(" ", "_")
        if isinstance(value, dict):
            flat |= flat_metrics(value, f"{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool) and np.isfinite(value):
            flat[name] = float(value)
    return flat


def feature_table(snapshots: pd.DataFrame, path: Path, digest: str) -> Any:
    """The feature table as an MLflow dataset: its file as source, its file digest as MLflow's.

    MLflow keeps 36 characters of a digest, so the dataset carries the first 32 hex digits of
    the SHA-256; the run's `features_digest` tag and `model.json` keep all of it.
    """
    return rows_dataset(snapshots, Path(path).stem, str(Path(path).resolve()), digest[:32])


def rows_dataset(
    frame: pd.DataFrame, name: str, source: str | None = None, digest: str | None = None
) -> Any:
    """Snapshot rows as an MLflow dataset (target `churned`); MLflow digests them if not given."""
    from mlflow.data.pandas_dataset import from_pandas

    with warnings.catch_warnings():
        # MLflow registers its local-file source twice, and says it picked one of the two.
        warnings.filterwarnings("ignore", "The specified dataset source can be interpreted")
        # Its schema hint is about serving a model from a schema with integer columns; this
        # schema only describes the rows (the served model has its own signature).
        warnings.filterwarnings("ignore", "Hint: Inferred schema contains integer column")
        dataset = from_pandas(
            frame,
            source=source,  # type: ignore[arg-type]  # None, its default: where the code ran
            name=name,
            targets="churned",
            digest=digest,
        )
        dataset.schema  # noqa: B018  (inferred once, here, under the filters above)
    return dataset


def run_metric(run_id: str | None, name: str) -> float | None:
    """A metric of an MLflow run (None when the run or the metric is not there)."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    if not run_id:
        return None
    try:
        value = MlflowClient().get_run(run_id).data.metrics.get(name)
    except MlflowException:
        return None
    return None if value is None else float(value)


def run_file(run_id: str, path: str) -> Path | None:
    """A file of an MLflow run's artifacts, downloaded (None when it is not there)."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return Path(mlflow.artifacts.download_artifacts(run_id=run_id, artifact_path=path))
    except (MlflowException, OSError):
        return None


def log_monitor_run(
    run_name: str,
    tags: dict[str, str],
    metrics: dict[str, Any],
    series: dict[str, list[tuple[int, float]]],
    folder: Path,
) -> str:
    """One run per monitor pass: its figures, per-week series (step = week) and files."""
    import mlflow

    with mlflow.start_run(run_name=run_name) as run:
        mlflow.set_tags(tags | {"role": "monitor"})
        mlflow.log_metrics(flat_metrics(metrics))
        for name, points in series.items():
            for step, value in points:
                if np.isfinite(value):
                    mlflow.log_metric(name, float(value), step=int(step))
        mlflow.log_artifacts(str(folder), "monitor")
    return str(run.info.run_id)


def attach_to_run(
    meta: ModelMeta,
    mlflow_dir: Path,
    files: Mapping[Path, str],
    metrics: Mapping[str, Any] | None = None,
    prefix: str = "",
) -> None:
    """Attach a stage's files and figures to the MLflow run that trained the model.

    `files` maps a folder or file to its artifact path; `metrics` are logged flattened under
    `prefix`. A model without a run (an old or hand-made one) is left alone.
    """
    import mlflow

    if not meta.mlflow_run_id:
        return
    use_store(Path(mlflow_dir), meta.experiment)
    with mlflow.start_run(run_id=meta.mlflow_run_id):
        if metrics is not None:
            mlflow.log_metrics(flat_metrics(dict(metrics), prefix))
        for path, artifact_path in files.items():
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path)
            elif path.exists():
                mlflow.log_artifact(str(path), artifact_path)
