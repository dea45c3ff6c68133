"""The monitor on a world whose churn rate shifts after the model was trained.

One module-scoped run: train before the shift, score two past weeks (one the trees learned
from), add replayed lists, run the monitor with recalibration off, then on; check the
recalibrated model on later weeks it never saw.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from data.params import BaseParams
from monitoring.params import MonitorParams
from monitoring.stages import data_through, monitor
from training.params import EvaluateParams, TrainParams

pytestmark = pytest.mark.slow
RECALIBRATION_WEEKS = 20  # weeks of the shifted rate: a small world's renewal seasons average out


def _labeled(features_dir: Path) -> pd.DataFrame:
    from features.snapshots import read_features
    from training.frames import labeled

    snapshots, manifest, _ = read_features(features_dir)
    return labeled(snapshots, manifest)


@pytest.fixture(scope="module")
def run(shifted_world):
    from serving.params import ScoreParams
    from serving.stages import score
    from training.bundle import load_model
    from training.stages import train

    w, root = shifted_world, shifted_world.root
    mlflow_dir, base = root / "mlflow", BaseParams()
    quick = TrainParams(tuning_minutes=0, n_trials=0, n_estimators=300, min_child_samples=20)
    train(w.train_features, root / "train", base, quick, EvaluateParams(), mlflow_dir=mlflow_dir)
    model, meta = load_model(root / "train" / "production")  # the model that scores
    through = data_through(meta)
    labeled = _labeled(w.monitor_features)
    dates = sorted(labeled["as_of"].unique())
    in_sample = max(d for d in dates if d <= through)
    later = [d for d in dates if d > dt.date(2025, 6, 30)]
    for day in (in_sample, later[0]):
        score(
            w.monitor_features, root / "train", root / "score", base, ScoreParams(), day, mlflow_dir
        )
    replay = labeled[labeled["as_of"].isin(later[1:4] + [in_sample])].copy()
    replay["probability"] = model.predict_proba(replay)[:, 1]
    replay["origin"] = np.where(replay["as_of"] == in_sample, later[-1], dt.date(2025, 6, 2))
    replay["manager_rating"] = replay["rating_current"]
    (root / "backtest").mkdir()
    replay[
        ["origin", "as_of", "account_id", "probability", "churned", "mrr", "manager_rating"]
    ].to_parquet(root / "backtest" / "weeks.parquet")
    params = MonitorParams(recalibration_weeks=RECALIBRATION_WEEKS)
    args = (w.monitor_features, root / "train", root / "score", root / "backtest")
    off = monitor(
        *args,
        root / "monitor_off",
        base,
        params.model_copy(update={"recalibrate": False}),
        EvaluateParams(),
        mlflow_dir,
    )
    versions_after_off = _versions(mlflow_dir)
    on = monitor(*args, root / "monitor", base, params, EvaluateParams(), mlflow_dir)
    return {
        "off": off,
        "on": on,
        "versions_after_off": versions_after_off,
        "model": model,
        "meta": meta,
        "in_sample": in_sample,
        "scored_later": later[0],
        "root": root,
        "mlflow_dir": mlflow_dir,
    }


def _versions(mlflow_dir: Path) -> list[str]:
    from mlflow import MlflowClient

    from training import tracking

    tracking.use_store(mlflow_dir, "churn-risk")
    return sorted(str(v.version) for v in MlflowClient().search_model_versions("name='churn-risk'"))


def test_calibration_drift_is_flagged_without_recalibrating_when_off(run):
    cal = run["off"]["calibration"]
    assert cal["status"] == "drifting"
    assert cal["calibration_in_the_large"] < -0.02  # the model under-predicts the new churn
    assert run["versions_after_off"] == ["1", "2"]  # train's evaluated and production versions
    assert "recalibrated" not in cal


def test_recalibrated_version_is_registered_with_lineage_and_becomes_champion(run):
    from mlflow import MlflowClient

    from serving.models import load_scoring_model

    cal = run["on"]["calibration"]
    assert cal["status"] == "recalibrated"
    assert abs(cal["recalibrated_calibration_in_the_large"]) < 0.005  # on its own weeks
    assert cal["recalibrated"]["version"] == "3"
    version = MlflowClient().get_model_version("churn-risk", "3")
    first, last = cal["weeks"]
    assert version.tags["recalibrated_from"] == "2"
    assert version.tags["vouched_by_version"] == "1"  # the gate still compares with the recipe
    assert version.tags["calibrated_on"] == f"{first}..{last}"
    assert float(version.tags["calibration_drift_before"]) == pytest.approx(
        cal["calibration_in_the_large"], abs=1e-4
    )
    _, meta = load_scoring_model(run["root"] / "train", run["mlflow_dir"])
    assert meta.model_version == "3"
    assert meta.role == "recalibrated"
    assert meta.recalibrated_from == "2"
    assert meta.calibrated_through == last
    assert (run["root"] / "monitor" / "recalibrated" / "model.json").exists()


def test_recalibration_holds_on_later_weeks_it_never_saw(run, shifted_world):
    from serving.models import load_scoring_model

    new, meta = load_scoring_model(run["root"] / "train", run["mlflow_dir"])
    rows = _labeled(shifted_world.held_out_features)
    held = rows[rows["as_of"] > dt.date.fromisoformat(meta.calibrated_through)]
    assert held["as_of"].nunique() >= 15
    before = run["model"].predict_proba(held)[:, 1].mean() - held["churned"].mean()
    after = new.predict_proba(held)[:, 1].mean() - held["churned"].mean()
    print(f"held-out calibration in the large: before {before:+.4f}, after {after:+.4f}")
    assert abs(after) <= 0.01
    assert abs(before) > 0.01


def test_weeks_as_scored_and_replayed_with_in_sample_left_out(run):
    weeks = pd.read_csv(run["root"] / "monitor" / "weeks.csv", parse_dates=["as_of"])
    weeks["as_of"] = weeks["as_of"].dt.date
    scored = weeks[weeks["source"] == "as_scored"].set_index("as_of")
    assert set(scored.index) == {run["in_sample"], run["scored_later"]}
    assert bool(scored.loc[run["in_sample"], "in_sample"])
    assert not bool(scored.loc[run["scored_later"], "in_sample"])
    replayed = weeks[weeks["source"] == "replayed"]
    assert len(replayed) == 4 and replayed["in_sample"].sum() == 1
    summary = run["on"]
    assert summary["weeks"] == {
        "as_scored": 2,
        "replayed": 4,
        "in_sample": 2,
        "judged": 4,
        "last_judged_week": str(replayed["as_of"].max()),
    }
    judged = weeks[~weeks["in_sample"]]
    assert summary["realized"]["rows"] == judged["rows"].sum()
    assert (run["root"] / "monitor" / "plots" / "expected_vs_realized.png").stat().st_size > 5000


def test_recommendation_names_its_reasons(run):
    advice = run["on"]["recommendation"]
    assert advice["retrain"]
    assert any("weeks before the newest" in r for r in advice["reasons"])
    flagged = run["on"]["drift"]["features"]["flagged"]
    assert flagged and all(f["name"] and f["description"] for f in flagged)


def test_report_renders_with_and_without_the_monitor(run, tmp_path):
    from serving.params import ReportParams
    from serving.stages import report

    root, missing = run["root"], tmp_path / "nothing"
    args = (root / "score", missing, missing)
    plain = report(*args, tmp_path / "plain", BaseParams(), ReportParams()).read_text()
    assert 'id="monitor"' not in plain
    page = report(
        *args, tmp_path / "full", BaseParams(), ReportParams(), monitor_dir=root / "monitor"
    ).read_text()
    assert 'id="monitor"' in page
    assert "Expected vs realized churn by scored week" in page  # the chart's alt text
    assert "Retrain recommended" in page
    flagged = run["on"]["drift"]["features"]["flagged"]
    assert flagged[0]["name"] in page


def test_recalibrated_version_serves_its_calibrator_and_names_its_run(run, shifted_world):
    import mlflow
    from mlflow import MlflowClient

    from serving.models import load_scoring_model
    from training.registry import signature_frame

    new, meta = load_scoring_model(run["root"] / "train", run["mlflow_dir"])
    rows = _labeled(shifted_world.held_out_features).tail(300)
    served = mlflow.pyfunc.load_model("models:/churn-risk@champion").predict(
        signature_frame(rows, meta.features, meta.categorical)
    )
    np.testing.assert_array_equal(served["probability"], new.predict_proba(rows)[:, 1])
    mlflow_run = MlflowClient().get_run(meta.mlflow_run_id)
    first, last = run["on"]["calibration"]["weeks"]
    assert mlflow_run.info.run_name == f"monitor recalibration of v2 on {first}..{last}"
    (used,) = mlflow_run.inputs.dataset_inputs
    assert used.dataset.name == "recalibration_weeks"
    labeled = _labeled(shifted_world.monitor_features)
    weeks = labeled["as_of"].between(dt.date.fromisoformat(first), dt.date.fromisoformat(last))
    assert json.loads(used.dataset.profile)["num_rows"] == int(weeks.sum())
