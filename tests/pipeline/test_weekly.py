"""`churn weekly`: a new export is scored with the champion, and nothing is retrained."""

from __future__ import annotations

import datetime as dt
import shutil
import tomllib
from pathlib import Path

import pytest
import yaml
from mlflow import MlflowClient

from data.io import read_json
from data.params import BaseParams, ValidateParams
from data.stages import generate, validate
from evaluation.params import BacktestParams
from evaluation.stages.backtest import backtest
from features.params import FeaturesParams
from features.stages import features
from training import tracking
from training.params import EvaluateParams, TrainParams

from .conftest import model_stages

ROOT = Path(__file__).resolve().parents[2]
# The project's packages, as the wheel lists them.
PACKAGES = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["hatch"]["build"][
    "targets"
]["wheel"]["packages"]
LAST_WEEK = dt.date(2026, 10, 19)  # the world's last Monday is 2026-10-26


def _project(tmp: Path, raw: Path) -> Path:
    """A DVC project folder with this repository's pipeline and code, reading a copy of `raw`."""
    project = tmp / "project"
    project.mkdir()
    shutil.copy(ROOT / "dvc.yaml", project / "dvc.yaml")
    for package in PACKAGES:
        if (ROOT / package).is_dir():
            (project / package).symlink_to(ROOT / package)
    if raw.exists():
        shutil.copytree(raw, project / "raw")
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["base"]["raw_dir"] = "raw"
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / ".dvc").mkdir()
    (project / ".dvc" / "config").write_text("[core]\n    no_scm = True\n    autostage = false\n")
    return project


@pytest.mark.slow
def test_a_new_week_is_scored_by_the_same_model(tmp_path: Path) -> None:
    from serving.weekly import run_weekly

    generate(tmp_path / "then", 150, 7, written_on=LAST_WEEK)  # last week's export
    generate(tmp_path / "now", 150, 7)  # this week's: the same world, a week on
    project = _project(tmp_path, tmp_path / "now" / "raw")
    out = project / "outputs"
    base = BaseParams(export_date=LAST_WEEK)
    validate(tmp_path / "then" / "raw", out / "validate", base, ValidateParams())
    features(out / "validate", out / "features", base, FeaturesParams())
    model_stages(out / "features", out)  # train, evaluate, explain, compare into outputs/
    backtest(
        out / "features",
        out / "train",
        out / "backtest",
        BaseParams(),
        BacktestParams(every_weeks=26),
        TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20),
        EvaluateParams(),
        mlflow_dir=out / "mlflow",
    )
    trained = read_json(out / "train" / "production" / "model.json")
    tracking.use_store(out / "mlflow", "churn-risk")
    versions = len(MlflowClient().search_model_versions("name='churn-risk'"))

    run = run_weekly(project)

    scored = read_json(out / "score" / "latest" / "summary.json")
    assert scored["as_of"] == "2026-10-26" and run.as_of == "2026-10-26"
    assert scored["accounts"] > 50
    # The production model scored (the champion, or the challenger if a small world's model
    # failed the gate), and the registry's champion did not move.
    assert run.scored_with == trained["model_version"]
    assert run.champion_after == run.champion_before
    assert scored["model"]["data_through"] == trained["data_through"]
    # Nothing was retrained: the model files and the registry are as they were.
    assert read_json(out / "train" / "production" / "model.json") == trained
    assert len(MlflowClient().search_model_versions("name='churn-risk'")) == versions
    assert (project / run.report).exists()
    assert read_json(out / "validate" / "report.json")["export_date"] > str(LAST_WEEK)


def test_weekly_refuses_a_project_with_no_trained_model(tmp_path: Path) -> None:
    from data.errors import ContractError
    from serving.weekly import run_weekly

    project = _project(tmp_path, tmp_path / "raw")
    with pytest.raises(ContractError, match="no trained model"):
        run_weekly(project)
