"""Realized figures, in-sample weeks, feature drift by name, a holding calibration, the knob."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score

from monitoring import realized
from monitoring.checks import calibration_check
from monitoring.drift import feature_drift, score_drift, score_reference
from monitoring.params import MonitorParams
from training.bundle import ModelMeta
from training.params import EvaluateParams
from training.profile import profile_rows

MONDAYS = [dt.date(2025, 1, 6) + dt.timedelta(weeks=i) for i in range(12)]


def _lists(seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i, day in enumerate(MONDAYS[:4]):
        p = rng.uniform(0.01, 0.6, 200)
        rows.append(
            pd.DataFrame(
                {
                    "source": realized.AS_SCORED if i % 2 == 0 else realized.REPLAYED,
                    "as_of": day,
                    "model": "m",
                    "data_through": MONDAYS[1],  # weeks 0 and 1 are in-sample
                    "account_id": [f"A{j}" for j in range(200)],
                    "probability": p,
                    "mrr": rng.uniform(100, 900, 200),
                    "churned": (rng.random(200) < p).astype(int),
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_week_figures_equal_scikit_learn():
    lists = _lists()
    week = lists[lists["as_of"] == MONDAYS[2]]
    y, p = week["churned"], week["probability"]
    got = realized.week_figures(y, p, week["mrr"])
    assert got["roc_auc"] == pytest.approx(roc_auc_score(y, p))
    assert got["brier"] == pytest.approx(brier_score_loss(y, p))
    assert got["calibration_in_the_large"] == pytest.approx(p.mean() - y.mean())
    assert got["expected_churns"] == pytest.approx(p.sum())
    assert got["realized_churns"] == y.sum()
    top = week.nlargest(20, "probability")
    assert got["top_decile_precision"] == pytest.approx(top["churned"].mean())


def test_in_sample_weeks_are_shown_but_not_judged():
    lists = _lists()
    weeks = realized.realized_weeks(lists)
    assert len(weeks) == 4
    assert weeks.sort_values("as_of")["in_sample"].tolist() == [True, True, False, False]
    judged = realized.judged(weeks, newest=13)
    assert judged["as_of"].tolist() == MONDAYS[2:4]
    pooled = realized.pooled(lists, judged)
    rows = lists[lists["as_of"].isin(MONDAYS[2:4])]
    assert pooled["rows"] == len(rows)
    assert pooled["roc_auc"] == pytest.approx(roc_auc_score(rows["churned"], rows["probability"]))


def test_unknown_data_through_counts_as_in_sample():
    lists = _lists().assign(data_through=None)
    assert realized.realized_weeks(lists)["in_sample"].all()


def _frame(n: int, shift: float, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "as_of": MONDAYS[0],
            "usage_logins_30d": rng.normal(10 + shift, 2, n),
            "tickets_open_now": rng.poisson(1.0, n).astype(float),
        }
    )


ENTRIES = [
    {"name": "usage_logins_30d", "dtype": "float", "description": "Logins in the last 30 days"},
    {"name": "tickets_open_now", "dtype": "float", "description": "Tickets open now"},
]


def test_psi_flags_the_shifted_feature_by_name():
    profile = profile_rows(_frame(4000, 0, 1), ENTRIES)
    descriptions = {e["name"]: e["description"] for e in ENTRIES}
    check, table = feature_drift(profile, _frame(800, 3.0, 2), descriptions, 0.25, 0.2)
    assert [(f.name, f.description) for f in check.flagged] == [
        ("usage_logins_30d", "Logins in the last 30 days")
    ]
    assert table.iloc[0]["feature"] == "usage_logins_30d" and table.iloc[0]["drifting"]
    same, _ = feature_drift(profile, _frame(800, 0, 3), descriptions, 0.25, 0.2)
    assert same.flagged == []


def test_score_psi_against_the_saved_training_scores():
    rng = np.random.default_rng(4)
    train_scores = rng.beta(2, 10, 5000)
    profile = profile_rows(_frame(5000, 0, 1), ENTRIES, scores=train_scores)
    assert profile.score is not None
    assert profile.as_dict()["score"]["edges"] == list(profile.score.edges)
    steady = score_drift(profile.score, rng.beta(2, 10, 800), 5000, 0.25)
    moved = score_drift(score_reference(train_scores), rng.beta(4, 8, 800), 5000, 0.25)
    assert not steady["drifting"] and moved["drifting"]


def test_no_recalibration_when_calibration_holds():
    rng = np.random.default_rng(5)
    rows = pd.concat(
        [pd.DataFrame({"as_of": d, "p": rng.uniform(0.05, 0.4, 500)}) for d in MONDAYS]
    )
    rows["churned"] = (rng.random(len(rows)) < rows["p"]).astype(int)
    meta = ModelMeta(
        features=[], splits={"train_end": str(MONDAYS[1])}, calibration_method="isotonic"
    )
    cal = calibration_check(
        None,
        meta,
        rows.reset_index(drop=True),
        MonitorParams(recalibration_weeks=8),
        EvaluateParams(),
        lambda model, frame: frame["p"].to_numpy(),
    )
    assert cal.summary["status"] == "holds"
    assert cal.model is None
    assert cal.summary["weeks"] == [str(MONDAYS[4]), str(MONDAYS[11])]
    drifting = calibration_check(
        None,
        meta,
        rows.reset_index(drop=True),
        MonitorParams(recalibration_weeks=8, recalibrate=False),
        EvaluateParams(),
        lambda model, frame: frame["p"].to_numpy() * 0.7,
    )
    assert drifting.summary["status"] == "drifting" and drifting.model is None


def test_churn_shift_multiplies_the_leave_probability_from_its_day():
    from data.world.config import DAY0, ChurnShift, Dynamics

    dyn = Dynamics().with_churn_shift(ChurnShift.parse("2025-06-02:1.8"))
    day = int((np.datetime64("2025-06-02") - DAY0).astype(int))
    assert dyn.churn_shift_day == day
    factor = dyn.churn_factor(np.array([day - 7, day, day + 7]))
    assert factor.tolist() == [1.0, 1.8, 1.8]
    assert Dynamics().churn_factor(day) == 1.0
    with pytest.raises(ValueError, match="DATE:FACTOR"):
        ChurnShift.parse("june:1.8")
