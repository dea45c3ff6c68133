"""MLflow: the embedded store, the logged pyfunc, the registry and the promotion gate."""

from __future__ import annotations

import json
import logging
import os
import tempfile
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from training.model import ChurnModel

log = logging.getLogger(__name__)

CHAMPION, CHALLENGER = "champion", "challenger"
SERVED_MODEL = Path(__file__).with_name("served_model.py")  # the registered model's code
SERVED_PACKAGES = ("mlflow", "lightgbm", "numpy", "pandas", "scipy")  # what it imports


@dataclass(frozen=True)
class Gate:
    """The promotion decision and why."""

    promote: bool
    reason: str
    champion_auc: float | None


def decide_promotion(
    auc: float, ece: float, champion_auc: float | None, max_auc_drop: float, max_ece: float
) -> Gate:
    """Promote when ECE is small and test AUC is at most `max_auc_drop` below the champion's."""
    if not np.isfinite(auc):
        return Gate(False, "test ROC AUC undefined (one class only)", champion_auc)
    if ece > max_ece:
        return Gate(False, f"ECE {ece:.4f} > {max_ece}", champion_auc)
    if champion_auc is not None and auc < champion_auc - max_auc_drop:
        reason = f"ROC AUC {auc:.4f} < champion {champion_auc:.4f} - {max_auc_drop}"
        return Gate(False, reason, champion_auc)
    if champion_auc is None:
        return Gate(True, f"first model to pass (ECE {ece:.4f})", None)
    return Gate(
        True, f"ROC AUC {auc:.4f} vs champion {champion_auc:.4f}, ECE {ece:.4f}", champion_auc
    )


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


def champion_auc(model_name: str, X: pd.DataFrame, y: np.ndarray) -> float | None:
    """The ROC AUC on these rows of the recipe that vouches for the champion, or None.

    A production champion learned from every labeled week, these rows included; what it
    stands on is the evaluated version that vouched for it (tag `vouched_by_version`), which
    never saw them. A champion without that tag is compared itself.
    """
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException
    from mlflow.types import DataType
    from sklearn.metrics import roc_auc_score

    try:
        current = MlflowClient().get_model_version_by_alias(model_name, CHAMPION)
    except MlflowException:
        return None
    version = current.tags.get("vouched_by_version", current.version)
    champion = mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")
    spec = champion.metadata.get_input_schema()
    names = spec.input_names() if spec else list(X.columns)
    if missing := [c for c in names if c not in X.columns]:
        # The export changed under the champion (a source gone): it cannot score these rows.
        log.warning("the champion needs features this export lacks %s; not compared", missing)
        return None
    text = [c.name for c in spec.inputs if c.type == DataType.string] if spec else []
    served = champion.predict(signature_frame(X, names, text))
    if isinstance(served, pd.DataFrame) and "probability" in served:
        proba = served["probability"].to_numpy(dtype=float)
    else:  # a version logged before the served model had a tier column
        proba = np.asarray(served).reshape(len(X), -1)[:, -1]
    return float(roc_auc_score(y, proba))


def signature_frame(
    frame: pd.DataFrame, features: list[str], categorical: list[str]
) -> pd.DataFrame:
    """The features as the pyfunc signature types them: categories as text, the rest as double."""
    columns = {
        c: frame[c].astype("object").where(frame[c].notna(), None)
        if c in categorical
        else frame[c].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        for c in features
    }
    return pd.DataFrame(columns, index=frame.index)


def _signature(features: list[str], categorical: list[str]) -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, Schema

    inputs = Schema(
        [ColSpec("string" if c in categorical else "double", c, required=False) for c in features]
    )
    outputs = Schema([ColSpec("double", "probability"), ColSpec("long", "tier")])
    return ModelSignature(inputs, outputs)


def served_requirements() -> list[str]:
    """What loading a registered version needs: `served_model.py`'s imports, pinned as here."""
    from importlib.metadata import version

    return [f"{name}=={version(name)}" for name in SERVED_PACKAGES]


def log_model(model: ChurnModel, tiers: dict[str, Any], example: pd.DataFrame, name: str) -> str:
    """Log the servable model inside the active run and register it as a version of `name`.

    MLflow stores `served_model.py` as the model's code with two plain artifacts, LightGBM's
    text model (`booster`) and a JSON document (`document`, from `training.portable`), rather
    than a pickle of `ChurnModel`: unpickling that needs this project's code and the exact
    scikit-learn and venn-abers it was fitted with, and cloudpickled code the same Python.
    Loading needs only `SERVED_PACKAGES` (the pip requirements, pinned to the versions the
    version was logged and checked with); the artifacts are about the size of the pickle.
    The pickle stays the project's own format (`model.joblib` under the run's `churn/`):
    SHAP reasons need the fitted `ChurnModel`. The signature names every feature (categories
    as string, the rest as double, all optional: missing values are allowed) and returns
    `probability` and `tier`; the input example is a few rows of the test weeks.
    """
    import mlflow

    from training.portable import export_model

    features, categorical = list(model.features), list(model.categorical)
    booster, document = export_model(model, tiers)
    with tempfile.TemporaryDirectory(prefix="churn-model-") as tmp:
        parts = {"booster": Path(tmp) / "booster.txt", "document": Path(tmp) / "document.json"}
        parts["booster"].write_text(booster)
        parts["document"].write_text(json.dumps(document))
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(SERVED_MODEL),
            artifacts={key: str(path) for key, path in parts.items()},
            signature=_signature(features, categorical),
            input_example=signature_frame(example, features, categorical),
            pip_requirements=served_requirements(),
            # The model is not this uv project: a folder without uv.lock keeps MLflow from
            # copying the project's lock in, which `--env-manager uv` would then `uv sync`.
            uv_project_path=tmp,
            registered_model_name=name,
        )
    return str(info.registered_model_version)


def tag_version(model_name: str, version: str, tags: dict[str, str]) -> None:
    """Set tags on a registered version."""
    from mlflow import MlflowClient

    client = MlflowClient()
    for key, value in tags.items():
        client.set_model_version_tag(model_name, version, key, str(value))


def set_lineage(model_name: str, version: str, meta: dict[str, Any], gate: Gate) -> None:
    """Tag a production version with what vouches for it; move `champion` if the gate passed.

    The alias moves only when the vouching recipe passed the gate on its test weeks;
    otherwise the version is the `challenger`, with the reason.
    """
    from mlflow import MlflowClient

    vouched = meta["vouched_by"]
    tag_version(
        model_name,
        version,
        {
            "vouched_by_version": vouched["model_version"],
            "vouched_by_run": vouched["mlflow_run_id"],
            "data_through": meta["data_through"],
        },
    )
    alias = CHAMPION if gate.promote else CHALLENGER
    MlflowClient().set_registered_model_alias(model_name, alias, version)
    log.info(
        "model %s version %s (vouched for by version %s) -> %s (%s)",
        model_name,
        version,
        vouched["model_version"],
        alias,
        gate.reason,
    )


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
    return _dataset(snapshots, Path(path).stem, str(Path(path).resolve()), digest[:32])


def _dataset(
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


def register_recalibrated(
    model: ChurnModel,
    rows: pd.DataFrame,
    meta: dict[str, Any],
    tags: dict[str, str],
    metrics: dict[str, Any],
    write_meta: Any,
    model_dir: Path,
    artifact_path: str,
) -> tuple[str, str]:
    """Register a recalibrated model as a new version in its own run; make it the champion.

    The run ("monitor recalibration of v2 on 2026-10-05..2026-11-23") has the rows the
    calibrator was refitted on as its input, logs the servable model (tier cut points from
    `meta`) and `model_dir` under `artifact_path` (where the scorer fetches a champion's
    files); `write_meta(run_id, version)` writes `model.json` into `model_dir` once both are
    known. The run and the version carry `tags` (the lineage). Returns (run id, version).
    """
    import mlflow
    from mlflow import MlflowClient

    name = meta.get("model_name", "churn-risk")
    run_name = (
        f"monitor recalibration of v{tags.get('recalibrated_from', '?')}"
        f" on {tags.get('calibrated_on', '?')}"
    )
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_input(_dataset(rows, "recalibration_weeks"), context="training")
        mlflow.set_tags(tags | {"role": "recalibrated"})
        mlflow.log_metrics(flat_metrics(metrics))
        example = rows[list(model.features)].head(5)
        version = log_model(model, meta["tiers"], example, name)
        write_meta(run.info.run_id, version)
        mlflow.log_artifacts(str(model_dir), artifact_path)
    client = MlflowClient()
    for key, value in (tags | {"role": "recalibrated"}).items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
    log.info("model %s version %s -> %s (recalibrated)", name, version, CHAMPION)
    return run.info.run_id, version


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
    meta: Mapping[str, Any],
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

    if not meta.get("mlflow_run_id"):
        return
    use_store(Path(mlflow_dir), meta.get("experiment", "churn-risk"))
    with mlflow.start_run(run_id=meta["mlflow_run_id"]):
        if metrics is not None:
            mlflow.log_metrics(flat_metrics(dict(metrics), prefix))
        for path, artifact_path in files.items():
            if path.is_dir():
                mlflow.log_artifacts(str(path), artifact_path)
            elif path.exists():
                mlflow.log_artifact(str(path), artifact_path)
