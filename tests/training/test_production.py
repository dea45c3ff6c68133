"""The production model: the evaluated recipe refitted on every week, calibrated out of time."""

import datetime as dt

import joblib
import numpy as np
import pandas as pd
import pytest

from data.io import read_json
from training.calibration import apply_calibrator, fit_on_scores, rebind
from training.frames import labeled
from training.model import BoostedTrees
from training.production import Recipe, calibration_blocks


def _mondays(n: int) -> list[dt.date]:
    return [dt.date(2024, 1, 1) + dt.timedelta(weeks=k) for k in range(n)]


def test_calibration_blocks_are_the_newest_weeks_and_their_trees_stop_a_horizon_before():
    dates = _mondays(60)
    blocks = calibration_blocks(dates, block_weeks=8, blocks=2, horizon_days=90)
    assert [(b.start, b.end) for b, _ in blocks] == [
        (dates[44], dates[51]),
        (dates[52], dates[59]),
    ]
    for block, fit_until in blocks:
        assert (block.start - fit_until).days >= 90
        assert (block.start - fit_until).days < 97  # the newest week a horizon before
    # A short export keeps the blocks that still leave enough weeks to fit on.
    assert len(calibration_blocks(_mondays(28), 8, 2, 90)) == 1
    assert calibration_blocks(_mondays(20), 8, 2, 90) == []


@pytest.mark.parametrize("method", ["none", "platt", "isotonic", "venn_abers"])
def test_a_rebound_calibrator_maps_other_trees_scores_as_it_learned(method, snapshots):
    rows = snapshots[snapshots["churned"].notna()].head(3000)
    trees = BoostedTrees(
        ["usage_events_28d", "contacts_days_since_last"], [], {"n_estimators": 20}
    ).fit(rows, rows["churned"].astype(int))
    rng = np.random.default_rng(0)
    scores = rng.uniform(0.01, 0.6, 2000)
    labels = (rng.uniform(size=2000) < scores * 0.5).astype(int)
    calibrator = fit_on_scores(method, scores, labels)
    bound = rebind(calibrator, trees)
    raw = trees.predict_proba(rows)[:, 1]
    np.testing.assert_allclose(
        bound.predict_proba(rows)[:, 1], apply_calibrator(calibrator, raw), rtol=1e-9
    )
    if method != "none":  # it learned something: halving the scores is not the identity
        assert np.abs(apply_calibrator(calibrator, scores) - scores).max() > 0.05


def test_production_model_learns_from_every_labeled_week(trained, snapshots, manifest):
    root = trained["root"]
    meta = read_json(root / "train" / "production" / "model.json")
    evaluated = read_json(root / "train" / "model" / "model.json")
    rows = labeled(snapshots, manifest)
    assert meta["role"] == "production" and evaluated["role"] == "evaluated"
    assert meta["data_through"] == str(rows["as_of"].max())
    assert meta["data_through"] >= evaluated["splits"]["test_end"]
    assert meta["vouched_by"]["model_version"] == evaluated["model_version"]
    assert meta["vouched_by"]["test_metrics"] == trained["metrics"]["test"]
    # The same recipe: tuned parameters and tree count, on more rows.
    recipe = Recipe.from_dict(meta["recipe"])
    assert meta["params"] == evaluated["params"] == recipe.params | {"n_estimators": recipe.rounds}
    assert meta["recipe"] == evaluated["recipe"]
    assert meta["params"]["n_estimators"] == trained["metrics"]["best_iteration"]
    profile = meta["reference_profile"]
    assert (profile["start"], profile["end"]) == (meta["fitted_from"], meta["data_through"])


def test_no_row_calibrates_trees_that_saw_it(trained, snapshots, manifest):
    """Each calibration block's scores come from trees fitted a horizon before the block."""
    root = trained["root"]
    meta = read_json(root / "train" / "production" / "model.json")
    recipe = Recipe.from_dict(meta["recipe"])
    rows = labeled(snapshots, manifest)
    rows = rows[rows["as_of"] >= dt.date.fromisoformat(meta["fitted_from"])]
    calibrated = pd.read_parquet(root / "train" / "production_calibration.parquet")
    calibrated["as_of"] = pd.to_datetime(calibrated["as_of"]).dt.date.astype(str)
    for start, end in meta["calibration_blocks"]:
        start_day, end_day = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
        horizon_before = start_day - dt.timedelta(days=manifest.horizon_days)
        before = rows[rows["as_of"] <= horizon_before]
        fold = recipe.fit_trees(before)
        block = rows[(rows["as_of"] >= start_day) & (rows["as_of"] <= end_day)]
        saved = calibrated.set_index(["account_id", "as_of"]).loc[
            list(zip(block["account_id"], block["as_of"].astype(str), strict=True))
        ]
        np.testing.assert_allclose(
            saved["raw_score"].to_numpy(), fold.predict_proba(block)[:, 1], rtol=1e-9
        )
    # The saved model is those trees' calibrator bound to the trees fitted on every week.
    model = joblib.load(root / "train" / "production" / "model.joblib")
    week = rows[rows["as_of"] == rows["as_of"].max()]
    np.testing.assert_allclose(
        model.predict_proba(week)[:, 1],
        np.clip(apply_calibrator(model.calibrator_, model.raw_score(week)), 1e-6, 1 - 1e-6),
        rtol=1e-9,
    )
