"""The MLflow registry: the logged pyfunc, its versions, aliases and lineage, the gate."""

from __future__ import annotations

import json
import logging
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from training.tracking import flat_metrics, rows_dataset

if TYPE_CHECKING:
    from training.bundle import ModelMeta
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


def set_lineage(meta: ModelMeta, gate: Gate) -> None:
    """Tag a production version with what vouches for it; move `champion` if the gate passed.

    The alias moves only when the vouching recipe passed the gate on its test weeks;
    otherwise the version is the `challenger`, with the reason.
    """
    from mlflow import MlflowClient

    model_name, version, vouched = meta.model_name, str(meta.model_version), meta.vouched_by or {}
    tag_version(
        model_name,
        version,
        {
            "vouched_by_version": vouched["model_version"],
            "vouched_by_run": vouched["mlflow_run_id"],
            "data_through": str(meta.data_through),
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


def register_recalibrated(
    model: ChurnModel,
    rows: pd.DataFrame,
    meta: ModelMeta,
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

    name = meta.model_name
    run_name = (
        f"monitor recalibration of v{tags.get('recalibrated_from', '?')}"
        f" on {tags.get('calibrated_on', '?')}"
    )
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_input(rows_dataset(rows, "recalibration_weeks"), context="training")
        mlflow.set_tags(tags | {"role": "recalibrated"})
        mlflow.log_metrics(flat_metrics(metrics))
        example = rows[list(model.features)].head(5)
        version = log_model(model, meta.tiers, example, name)
        write_meta(run.info.run_id, version)
        mlflow.log_artifacts(str(model_dir), artifact_path)
    client = MlflowClient()
    for key, value in (tags | {"role": "recalibrated"}).items():
        client.set_model_version_tag(name, version, key, value)
    client.set_registered_model_alias(name, CHAMPION, version)
    log.info("model %s version %s -> %s (recalibrated)", name, version, CHAMPION)
    return run.info.run_id, version
