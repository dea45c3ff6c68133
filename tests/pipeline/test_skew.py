"""End to end: the skew guard of `score`, in summary.json, the report and GET /v1/model."""

from __future__ import annotations

import datetime as dt
import json
import logging
import shutil
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from data.params import BaseParams
from features.manifest import Manifest
from serving.api import create_app
from serving.bundle import load
from serving.params import ReportParams, ScoreParams
from serving.settings import Settings
from serving.stages import report, score
from training.bundle import load_model
from training.frames import full_windows_from
from training.profile import PROFILE_KEY, saved_profile

TRAIN = ScoreParams(model="train")
KEY = "skew-test-key"


def _important_feature(train_dir: Path) -> str:
    """The numeric feature the model leans on most (by gain), mostly present in training."""
    model, meta = load_model(train_dir / "production")
    profile = saved_profile(meta)
    assert profile is not None
    gain = model.trees_.booster_.booster_.feature_importance("gain")
    ranked = sorted(zip(gain, model.features, strict=True), reverse=True)
    return next(
        name
        for _, name in ranked
        if profile.features[name].kind == "numeric" and profile.features[name].missing_share < 0.5
    )


def _middle_training_week(featured: Path, train_dir: Path) -> dt.date:
    """The snapshot date nearest the middle of the model's training period (from model.json)."""
    _, meta = load_model(train_dir / "production")
    start = dt.date.fromisoformat(meta.fitted_from)
    end = dt.date.fromisoformat(meta.data_through)
    middle = start + (end - start) / 2
    dates = pd.to_datetime(pd.read_parquet(featured / "snapshots.parquet")["as_of"]).dt.date
    return min(dates.unique(), key=lambda d: abs(d - middle))


def _blanked(featured: Path, out: Path, feature: str, day: dt.date) -> Path:
    """A copy of the feature table where `feature` is missing for every account on `day`."""
    out.mkdir(parents=True)
    shutil.copy(featured / "manifest.json", out / "manifest.json")
    snaps = pd.read_parquet(featured / "snapshots.parquet")
    on_day = pd.to_datetime(snaps["as_of"]).dt.date == day
    snaps[feature] = snaps[feature].astype("Float64").mask(on_day)
    snaps.to_parquet(out / "snapshots.parquet", index=False)
    return out


def _skew(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text())["skew"]


def _card(settings: Settings) -> dict:
    with TestClient(create_app(settings, preload=load(settings))) as client:
        response = client.get("/v1/model", headers={"X-API-Key": KEY})
    assert response.status_code == 200, response.text
    return response.json()


def _settings(modeled: Path, featured: Path, scores: Path, train_dir: Path) -> Settings:
    return Settings(
        scores_dir=scores,
        model=str(train_dir / "production"),
        train_dir=train_dir,
        mlflow_dir=modeled / "mlflow",
        features_dir=featured,
        api_keys=KEY,
        watch_seconds=0,
    )


@pytest.fixture(scope="module")
def skew_runs(featured: Path, modeled: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The middle training week and the latest week, each scored as is and with one blanked."""
    root = tmp_path_factory.mktemp("skew")
    train_dir = modeled / "train"
    feature = _important_feature(train_dir)
    middle = _middle_training_week(featured, train_dir)
    latest = max(pd.to_datetime(pd.read_parquet(featured / "snapshots.parquet")["as_of"]).dt.date)
    runs: dict = {"feature": feature, "middle": middle, "latest": latest, "root": root}
    for day in (middle, latest):
        score(featured, train_dir, root / "as_is", BaseParams(), TRAIN, day)
        blank = _blanked(featured, root / f"features-{day}", feature, day)
        score(blank, train_dir, root / "blanked", BaseParams(), TRAIN, day)
    return runs


def test_a_week_of_the_training_period_flags_nothing(skew_runs, modeled, featured):
    skew = _skew(skew_runs["root"] / "as_is" / str(skew_runs["middle"]))
    _, meta = load_model(modeled / "train" / "production")
    assert skew["status"] == "checked"
    assert skew["features_checked"] == len(meta.features)
    # The production rows begin once every window lies inside the export's history, and end
    # with the last labeled week.
    full_from = full_windows_from(Manifest.load(featured / "manifest.json"))
    dates = pd.to_datetime(pd.read_parquet(featured / "snapshots.parquet")["as_of"]).dt.date
    assert skew["training_start"] == min(d for d in dates.unique() if d >= full_from).isoformat()
    assert skew["training_start"] == meta.fitted_from
    assert skew["training_end"] == meta.data_through
    assert skew["flagged"] == [], [f["name"] for f in skew["flagged"]]


def test_a_blanked_important_feature_is_flagged_by_name_in_summary_and_api(
    skew_runs, modeled, featured
):
    feature, root = skew_runs["feature"], skew_runs["root"]
    manifest = json.loads((featured / "manifest.json").read_text())
    description = next(f["description"] for f in manifest["features"] if f["name"] == feature)
    for day in (skew_runs["middle"], skew_runs["latest"]):
        as_is = {f["name"] for f in _skew(root / "as_is" / str(day))["flagged"]}
        flagged = {f["name"]: f for f in _skew(root / "blanked" / str(day))["flagged"]}
        # Only the blanked feature is new; what honestly drifts by the latest week stays.
        assert set(flagged) == as_is | {feature}, (day, feature)
        entry = flagged[feature]
        assert entry["missing_share"] == 1.0 and entry["training_missing_share"] < 0.5
        assert entry["psi"] > entry["psi_threshold"] >= 0.25
        assert entry["description"] == description
    settings = _settings(modeled, featured, root / "blanked" / "latest", modeled / "train")
    card = _card(settings)
    assert card["scores_as_of"] == str(skew_runs["latest"])
    served = {f["name"]: f for f in card["skew"]["flagged"]}
    assert served[feature]["missing_share"] == 1.0
    assert card["skew"] == _skew(root / "blanked" / "latest")


def test_the_report_shows_flagged_features_and_stays_quiet_without(skew_runs, modeled):
    root = skew_runs["root"]
    pages = {}
    for run in ("as_is", "blanked"):
        path = report(
            root / run,
            modeled / "evaluate",
            modeled / "compare",
            root / f"report-{run}",
            BaseParams(),
            ReportParams(),
            as_of=skew_runs["middle"],
        )
        pages[run] = path.read_text().split('id="skew"')[1].split("<h3")[0]
    assert "moved away" not in pages["as_is"] and "<table" not in pages["as_is"]
    assert "features of this week's" in pages["as_is"]
    assert "1 of" in pages["blanked"] and "moved away" in pages["blanked"]
    assert f"<td>{skew_runs['feature']}</td>" in pages["blanked"]
    assert pages["blanked"].count("<tr><td>") == 1


def test_a_model_without_a_profile_scores_and_says_the_guard_was_skipped(
    featured, modeled, tmp_path, caplog
):
    old = tmp_path / "train"
    shutil.copytree(modeled / "train" / "production", old / "production")
    meta = json.loads((old / "production" / "model.json").read_text())
    del meta[PROFILE_KEY]
    (old / "production" / "model.json").write_text(json.dumps(meta))
    with caplog.at_level(logging.INFO, logger="serving.stages"):
        summary = score(featured, old, tmp_path / "score", BaseParams(), TRAIN)
    assert summary["skew"]["status"] == "skipped" and not summary["skew"]["flagged"]
    assert "no reference profile" in summary["skew"]["note"]
    assert "skew guard skipped" in caplog.text
    card = _card(_settings(modeled, featured, tmp_path / "score" / "latest", old))
    assert card["skew"]["status"] == "skipped"
