"""Where `train` leaves its models, their `model.json` document, and how every stage loads one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib
from pydantic import BaseModel, ConfigDict

from data.io import read_json, write_json
from training.params import TrainParams

if TYPE_CHECKING:
    from training.model import ChurnModel

EVALUATED = "model"  # `train`'s folder of the model the test weeks judge
PRODUCTION = "production"  # `train`'s folder of the model that scores (see serving.models)
PRODUCTION_CAL = "production_calibration.parquet"  # the production calibrator's rows
META = "model.json"
MODEL_FILE = "model.joblib"  # the fitted estimator, beside its META

_TRAIN = TrainParams.model_fields


class ModelMeta(BaseModel):
    """`model.json`: what a saved model is, what it learned from, and where it is registered.

    The JSON layout is the one `train` has always written: a key is saved only when it was
    given (a production model's `fitted_from`, the monitor's lineage), so a document saved
    again reads as before. Keys older documents lack default to what their readers assumed
    (the params' model name and experiment); keys this class does not name travel along.
    """

    model_config = ConfigDict(frozen=True, extra="allow", protected_namespaces=())

    features: list[str]
    categorical: list[str] = []
    trained_at: str | None = None
    calibration_method: str | None = None
    params: dict[str, Any] = {}
    recipe: dict[str, Any] = {}
    features_digest: str | None = None
    gate: dict[str, Any] = {}
    # The model's own copy of its features' manifest entries: the API validates live rows
    # and words their reasons with it, wherever the model file travels.
    feature_manifest: list[dict[str, Any]] | None = None
    horizon_days: int | None = None
    role: str | None = None
    data_through: str | None = None
    fitted_from: str | None = None
    calibration_blocks: list[list[str]] | None = None
    splits: dict[str, Any] = {}
    tiers: dict[str, Any] = {}
    reference_profile: dict[str, Any] | None = None
    mlflow_run_id: str | None = None
    model_name: str = _TRAIN["model_name"].default
    experiment: str = _TRAIN["experiment"].default
    model_version: str | None = None
    vouched_by: dict[str, Any] | None = None
    # The monitor's recalibration (see monitoring.checks).
    recalibrated_from: str | None = None
    recalibrated_from_run_id: str | None = None
    calibrated_on: list[Any] | None = None
    calibrated_through: str | None = None
    recalibrated_at: str | None = None
    calibration_rows: int | None = None
    # Not saved: the registry alias the model was loaded as ("champion", "challenger").
    alias: str | None = None

    def horizon(self, default: int) -> int:
        """The days its probabilities cover; `default` for a model saved before it said so."""
        return self.horizon_days or default

    def with_(self, **changes: Any) -> ModelMeta:
        """A copy with these fields set (they are saved, as given ones are)."""
        return self.model_copy(update=changes)

    def document(self) -> dict[str, Any]:
        """The `model.json` mapping: the keys given, in the layout `train` writes."""
        return self.model_dump(exclude_unset=True, exclude={"alias"})

    def save(self, path: Path) -> None:
        """Write `model.json` (atomically)."""
        write_json(self.document(), path)

    @classmethod
    def load(cls, path: Path) -> ModelMeta:
        """Read a `model.json`."""
        return cls.model_validate(read_json(path))


def load_model(model_dir: Path) -> tuple[ChurnModel, ModelMeta]:
    """The saved estimator and its `model.json`, as every consumer loads them."""
    model_dir = Path(model_dir)
    return joblib.load(model_dir / MODEL_FILE), ModelMeta.load(model_dir / META)


def registered_names(train_dir: Path) -> tuple[str, str]:
    """The registered model's name and MLflow experiment, as `train` saved them in `train_dir`.

    Before any training (no `model.json` there) they are the params' defaults.
    """
    for folder in (EVALUATED, PRODUCTION):
        path = Path(train_dir) / folder / META
        if path.exists():
            meta = ModelMeta.load(path)
            return meta.model_name, meta.experiment
    return _TRAIN["model_name"].default, _TRAIN["experiment"].default
