"""Explanations add up to the calibrated probability, and read as sentences, never as names."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from data.io import read_json
from evaluation.explain import Explanation, calibrated, explain, reason_frame, top_drivers
from evaluation.reasons import MISSING, PHRASES, quotable, sentence
from training.calibration import fit_calibrator
from training.model import ChurnModel
from training.tiers import assign_tiers, fit_tiers


@pytest.fixture(scope="module")
def fitted(snapshots, manifest) -> tuple[ChurnModel, pd.DataFrame, pd.DataFrame]:
    rows = snapshots[snapshots["churned"].notna()]
    dates = sorted(rows["as_of"].unique())
    train = rows[rows["as_of"] < dates[30]]
    cal = rows[(rows["as_of"] >= dates[34]) & (rows["as_of"] < dates[44])]
    model = ChurnModel(
        manifest.feature_names,
        ["account_segment"],
        {"n_estimators": 60, "num_leaves": 7, "learning_rate": 0.1},
        calibration_methods=["platt"],
        calibration_folds=3,
    ).fit(train, train["churned"], calibration_set=(cal, cal["churned"]))
    return model, cal, rows[rows["as_of"] >= dates[48]].head(800)


@pytest.mark.parametrize("method", ["none", "platt", "isotonic", "venn_abers"])
def test_contributions_add_up_to_the_calibrated_probability(fitted, method):
    model, cal, test = fitted
    model.calibrator_ = fit_calibrator(model.trees_, cal, cal["churned"].to_numpy(), method)
    model.calibration_method_ = method
    e = explain(model, test)
    np.testing.assert_allclose(e.probability, model.predict_proba(test)[:, 1])
    np.testing.assert_allclose(e.base_probability + e.contributions.sum(axis=1), e.probability)
    # The booster's own log-odds are what TreeSHAP splits.
    np.testing.assert_allclose(
        e.base_log_odds + e.log_odds.sum(axis=1),
        model.trees_.decision_function(test),
        atol=1e-9,
    )
    # A monotone calibrator keeps every contribution's sign.
    same = np.sign(e.contributions) * np.sign(e.log_odds)
    assert (same[np.abs(e.log_odds) > 1e-9] >= 0).all()


def test_calibrated_base_value_matches_the_model(fitted):
    model, _, test = fitted
    raw = model.raw_score(test)
    np.testing.assert_allclose(calibrated(model, raw), model.predict_proba(test)[:, 1])


def test_top_drivers_pick_the_largest_contributions_by_sign(fitted):
    model, _, test = fitted
    e = explain(model, test)
    up, down = top_drivers(e, 2, 1)
    for i in range(len(test)):
        c = e.contributions[i]
        expected_up = [j for j in np.argsort(-c, kind="stable")[:2] if c[j] > 0]
        assert up[i] == expected_up
        assert all(c[j] < 0 for j in down[i]) and len(down[i]) <= 1


def test_reasons_never_show_raw_feature_names(fitted, manifest):
    model, _, test = fitted
    frame = reason_frame(explain(model, test), test, manifest, 3, 2)
    sentences = [s for col in ("reasons_up", "reasons_down") for lst in frame[col] for s in lst]
    assert sentences, "some rows must have reasons"
    names = manifest.feature_names
    assert not [s for s in sentences if any(n in s for n in names)]
    # Each reason's feature is listed beside it, in the same order.
    assert (frame["reasons_up"].map(len) == frame["drivers_up"].map(len)).all()


def test_per_event_type_counts_read_with_the_type_and_the_usual_rate():
    feature = {
        "name": "usage_type_workflow_run_7d",
        "dtype": "float",
        "unit": "events",
        "window": "7d",
        "description": "'workflow_run' events, last 7 days",
        "event_type": "workflow_run",
    }
    row = {"usage_type_workflow_run_90d": 90.0 * 22 / 7}
    assert sentence(feature, row | {feature["name"]: 0.0}) == (
        "0 workflow run events in the last 7 days (usually 22)"
    )
    assert sentence(feature, row | {feature["name"]: 1.0}).startswith("1 workflow run event ")


def test_a_missing_value_is_a_reason_only_when_it_says_something_about_the_account():
    renewal = {"name": "account_days_to_renewal", "dtype": "int", "description": "Renewal"}
    never = {"name": "usage_days_since_last_event", "dtype": "int", "description": "Since"}
    interval = {"name": "account_billing_interval", "dtype": "category", "description": "Bi"}
    assert not quotable(renewal, {"account_days_to_renewal": math.nan})
    assert not quotable(interval, {"account_billing_interval": None})
    assert quotable(renewal, {"account_days_to_renewal": 12})
    assert quotable(never, {"usage_days_since_last_event": None})  # never used the product
    explanation = Explanation(
        features=["account_days_to_renewal", "usage_days_since_last_event"],
        probability=np.array([0.5]),
        base_probability=0.1,
        contributions=np.array([[0.3, 0.1]]),
        log_odds=np.array([[1.0, 0.4]]),
        base_log_odds=-2.0,
    )
    assert top_drivers(explanation, 2, 0)[0] == [[0, 1]]
    assert top_drivers(explanation, 2, 0, quotable=np.array([[False, True]]))[0] == [[1]]


@pytest.mark.parametrize("name", sorted(PHRASES))
def test_every_phrase_reads_without_names_for_values_and_missing(name):
    feature = {"name": name, "dtype": "float", "unit": "x", "description": "A description"}
    row = {
        "usage_active_days_90d": 45.0,
        "usage_events_90d": 900.0,
        "usage_type_workflow_run_90d": 90.0,
        "usage_active_users_90d": 9.0,
        "rating_age_days": 140.0,
    }
    for value in (0.0, 1.0, 3.0, 23.0, -5.0, 0.25):
        text = sentence(feature, row | {name: value})
        assert text and "_" not in text and "nan" not in text.lower(), (name, value, text)
    text = sentence(feature, row | {name: math.nan})
    assert text == MISSING.get(name, "A description: unknown")


def test_rating_sentence_carries_its_age():
    feature = {"name": "rating_current", "dtype": "int", "unit": "1-4", "description": "r"}
    assert sentence(feature, {"rating_current": 4, "rating_age_days": 140}) == (
        "Manager rating 4 is 140 days old"
    )


def test_usage_sentence_uses_the_accounts_own_baseline():
    feature = {"name": "usage_days_since_last_event", "dtype": "int", "unit": "days"}
    text = sentence(
        feature | {"description": "d"}, {feature["name"]: 23, "usage_active_days_90d": 45}
    )
    assert text == "No product use for 23 days; usually every 2 days"


def test_unknown_features_fall_back_to_the_manifest_text():
    feature = {"name": "nps_score", "dtype": "float", "unit": "points", "description": "NPS"}
    assert sentence(feature, {"nps_score": 7.5}) == "NPS: 7.5 points"
    category = {"name": "x_plan", "dtype": "category", "unit": "label", "description": "Plan"}
    assert sentence(category, {"x_plan": "team_annual"}) == "Plan: team annual"


def test_tiers_reproduce_the_managers_shares():
    rng = np.random.default_rng(3)
    p = rng.beta(1, 6, 20_000)
    ratings = rng.choice([1, 2, 3, 4], 20_000, p=[0.08, 0.22, 0.4, 0.3]).astype(float)
    ratings[:3000] = np.nan  # never rated: not counted in the shares
    tiers = fit_tiers(p, ratings)
    shares = np.bincount(assign_tiers(p, tiers), minlength=5)[1:] / len(p)
    expected = np.bincount(ratings[3000:].astype(int), minlength=5)[1:] / 17_000
    np.testing.assert_allclose(shares, expected, atol=0.002)
    # Higher probability, higher risk tier (lower number).
    order = np.argsort(p)
    assert (np.diff(assign_tiers(p[order], tiers)) <= 0).all()


def test_tiers_without_ratings_use_default_shares_and_unused_levels_stay_empty():
    p = np.random.default_rng(4).random(10_000)
    tiers = fit_tiers(p, np.full(10_000, np.nan))
    assert "default" in tiers["source"]
    shares = np.bincount(assign_tiers(p, tiers), minlength=5)[1:] / len(p)
    np.testing.assert_allclose(shares, [0.1, 0.2, 0.3, 0.4], atol=0.002)
    never_one = fit_tiers(p, np.array([2.0, 3.0, 4.0, 4.0]))
    assert (assign_tiers(p, never_one) != 1).all()


def test_explain_stage_writes_reasons_for_test_and_latest_weeks(explained):
    root = explained["root"]
    meta = read_json(root / "train" / "model" / "model.json")
    reasons = pd.read_parquet(root / "explain" / "reasons.parquet")
    contrib = pd.read_parquet(root / "explain" / "contributions.parquet")
    dates = set(pd.to_datetime(reasons["as_of"]).dt.date.astype(str))
    assert meta["splits"]["test_start"] in dates and meta["splits"]["test_end"] in dates
    snaps = pd.read_parquet(root / "features" / "snapshots.parquet")
    assert str(pd.to_datetime(snaps["as_of"]).max().date()) in dates
    features = meta["features"]
    total = contrib["base_probability"] + contrib[features].sum(axis=1)
    np.testing.assert_allclose(total, contrib["probability"], atol=1e-5)  # float32 storage
    assert (root / "explain" / "plots" / "beeswarm.png").stat().st_size > 10_000


def test_tied_probabilities_fall_into_the_lower_risk_tier():
    p = np.r_[np.full(7000, 0.01), np.linspace(0.02, 0.9, 3000)]
    tiers = fit_tiers(p, np.full(10, np.nan))  # default shares 10/20/30/40
    assigned = assign_tiers(p, tiers)
    assert (assigned[:7000] == 4).all()
    shares = np.bincount(assigned, minlength=5)[1:] / len(p)
    np.testing.assert_allclose(shares[:2], [0.1, 0.2], atol=0.001)
