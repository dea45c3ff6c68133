"""The live explainer's choice of reasons (inline contributions), and the live risk curve."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from serving.live import LivePredictor, ReasonRule
from serving.params import ScoreParams
from serving.schemas import PredictResponse
from training.bundle import ModelMeta
from training.curve import RiskCurve, predict_curve
from training.model import ChurnModel


def test_reasons_are_the_strongest_each_way_over_min_contribution():
    c = np.array([0.03, -0.02, 0.005, 0.10, -0.004, -0.2])
    assert ReasonRule(up=3, down=2, min_contribution=0.005).pick(c) == ([3, 0], [5, 1])
    assert ReasonRule(up=1, down=0, min_contribution=0.005).pick(c) == ([3], [])
    assert ReasonRule(up=3, down=3, min_contribution=0.0).pick(c) == ([3, 0, 2], [5, 1, 4])
    assert ReasonRule(up=3, down=3, min_contribution=0.05).pick(c) == ([3], [5])


def test_ties_keep_the_feature_order():
    c = np.array([0.01, 0.02, 0.02, -0.02, -0.02])
    assert ReasonRule(up=2, down=2, min_contribution=0.0).pick(c) == ([1, 2], [3, 4])


def test_the_rule_of_a_scored_week_is_what_its_summary_records():
    rule = ReasonRule.of_week({"reasons_up": 1, "reasons_down": 0, "min_contribution": 0.02})
    assert rule == ReasonRule(up=1, down=0, min_contribution=0.02)
    # A week scored before the summary recorded them: the score section's defaults.
    old = ReasonRule.of_week({"min_contribution": 0.01})
    defaults = ScoreParams()
    assert old == ReasonRule(defaults.reasons_up, defaults.reasons_down, 0.01)
    assert ReasonRule.of_week({}) == ReasonRule(
        defaults.reasons_up, defaults.reasons_down, defaults.min_contribution
    )


RENEWAL = "account_days_to_renewal"


@pytest.fixture(scope="module")
def curved(snapshots, manifest) -> tuple[ChurnModel, ModelMeta, list[dict], pd.DataFrame]:
    """A headline model with a risk curve of small models, and feature rows as JSON has them."""
    rng = np.random.default_rng(4)
    frame = snapshots[snapshots["churned"].notna()].head(5000).copy()
    frame[RENEWAL] = rng.integers(-10, 400, len(frame)).astype(float)
    frame.loc[frame.index[:3:2], RENEWAL] = np.nan  # rows 0 and 2: renewal unknown
    features = [f["name"] for f in manifest.features] + [RENEWAL]
    churned = frame["churned"].astype(int).to_numpy()

    def fit(keep: float) -> ChurnModel:  # a label a share of the churns, some noise added
        y = (churned & (rng.random(len(frame)) < keep)) | (rng.random(len(frame)) < 0.02)
        params = {"n_estimators": 20, "num_leaves": 7}
        return ChurnModel(features, ["account_segment"], params).fit(frame, y)

    model = fit(1.0)
    targets = {"30d": 0.3, "60d": 0.6, "180d": 1.0, "by_renewal": 0.5}
    model.curve_ = RiskCurve((30, 60, 90, 180), 90, 30, {t: fit(k) for t, k in targets.items()})
    meta = ModelMeta(features=features, categorical=["account_segment"], horizon_days=90)
    meta = meta.with_(tiers={"cuts": [0.3, 0.15, 0.05]})
    rows = [
        {
            k: None if pd.isna(v) else (v.item() if isinstance(v, np.generic) else v)
            for k, v in r.items()
        }
        for r in frame[features].head(6).astype(object).to_dict("records")
    ]
    return model, meta, rows, frame.head(6)


def test_live_predict_gives_the_models_risk_curve(curved, manifest):
    model, meta, rows, frame = curved
    got = LivePredictor(model, meta, manifest.features).predict(rows)
    PredictResponse.model_validate({"predictions": got, "model_version": None})
    expected = predict_curve(model, frame, 90)
    for i, p in enumerate(got):
        points = {c["horizon_days"]: c["probability"] for c in p["risk_curve"]}
        assert list(points) == [30, 60, 90, 180]
        for h, value in points.items():
            assert value == pytest.approx(expected[f"p_churn_{h}d"].iloc[i], rel=1e-9)
        assert points[90] == p["probability"]
        assert np.all(np.diff(list(points.values())) >= 0)
        assert p["next_renewal"] is None  # a live row has no as_of
        assert p["days_to_renewal"] == rows[i][RENEWAL]
        want = expected["p_churn_by_renewal"].iloc[i]
        if rows[i][RENEWAL] is None:
            assert p["p_churn_by_renewal"] is None
        else:
            assert p["p_churn_by_renewal"] == pytest.approx(want, rel=1e-9)
    assert [p["days_to_renewal"] is None for p in got] == [True, False, True, False, False, False]


def test_a_model_without_a_curve_answers_null_for_it(curved, manifest):
    model, meta, rows, _ = curved
    plain = copy.copy(model)
    plain.curve_ = None
    got = LivePredictor(plain, meta, manifest.features).predict(rows)
    with_curve = LivePredictor(model, meta, manifest.features).predict(rows)
    assert [p["probability"] for p in got] == [p["probability"] for p in with_curve]
    assert all(p["risk_curve"] is None and p["p_churn_by_renewal"] is None for p in got)
    assert [p["days_to_renewal"] for p in got] == [r[RENEWAL] for r in rows]
