"""model.json as ModelMeta: the layout train writes, old files, the registered names."""

from __future__ import annotations

import json
from pathlib import Path

from training.bundle import EVALUATED, PRODUCTION, ModelMeta, registered_names
from training.params import TrainParams

SAVED = {
    "features": ["usage_logins_30d"],
    "categorical": [],
    "trained_at": "2025-07-01T00:00:00+00:00",
    "calibration_method": "platt",
    "params": {"n_estimators": 40},
    "recipe": {"rounds": 40},
    "features_digest": "ab" * 32,
    "gate": {"promoted": True, "reason": "first model to pass (ECE 0.0100)"},
    "feature_manifest": [{"name": "usage_logins_30d", "description": "Logins"}],
    "horizon_days": 90,
    "role": "production",
    "data_through": "2025-06-30",
    "fitted_from": "2024-03-04",
    "calibration_blocks": [["2025-01-06", "2025-03-31"]],
    "splits": {"train_end": "2025-01-01"},
    "tiers": {"cuts": [0.1, 0.3]},
    "reference_profile": {"rows": 3},
    "mlflow_run_id": "r1",
    "model_name": "renewals",
    "experiment": "renewals-lab",
    "model_version": "2",
    "vouched_by": {"model_version": "1", "mlflow_run_id": "r0"},
}


def test_a_saved_document_round_trips_key_for_key(tmp_path: Path) -> None:
    (tmp_path / "model.json").write_text(json.dumps(SAVED | {"from_a_later_tool": 1}))
    meta = ModelMeta.load(tmp_path / "model.json")
    assert meta.model_name == "renewals" and meta.experiment == "renewals-lab"
    meta.with_(alias="champion").save(tmp_path / "again.json")
    again = json.loads((tmp_path / "again.json").read_text())
    assert again == SAVED | {"from_a_later_tool": 1}  # the alias is never saved
    assert list(again)[: len(SAVED)] == list(SAVED)


def test_an_old_document_loads_and_keeps_its_keys(tmp_path: Path) -> None:
    old = {"features": ["a"], "tiers": {"cuts": [0.2]}, "params": {}}
    (tmp_path / "model.json").write_text(json.dumps(old))
    meta = ModelMeta.load(tmp_path / "model.json")
    defaults = TrainParams()
    assert (meta.model_name, meta.experiment) == (defaults.model_name, defaults.experiment)
    assert meta.vouched_by is None and meta.reference_profile is None
    assert meta.horizon(91) == 91
    assert meta.document() == old  # nothing it lacked is written when saved again


def test_registered_names_come_from_the_train_folder(tmp_path: Path) -> None:
    defaults = TrainParams()
    assert registered_names(tmp_path) == (defaults.model_name, defaults.experiment)
    (tmp_path / PRODUCTION).mkdir()
    ModelMeta.model_validate(SAVED).save(tmp_path / PRODUCTION / "model.json")
    assert registered_names(tmp_path) == ("renewals", "renewals-lab")
    (tmp_path / EVALUATED).mkdir()
    ModelMeta.model_validate(SAVED | {"model_name": "other"}).save(
        tmp_path / EVALUATED / "model.json"
    )
    assert registered_names(tmp_path)[0] == "other"
