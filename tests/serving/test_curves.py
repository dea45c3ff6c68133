"""The risk curve's columns read for the report and the API, on inline scored weeks."""

from __future__ import annotations

import numpy as np
import pandas as pd

from serving.curves import curve_fields, curve_horizons, live_curve, renewals_due


def test_the_horizons_are_read_from_the_columns_shortest_first():
    columns = ["probability", "p_churn_180d", "p_churn_30d", "p_churn_by_renewal", "p_churn_90d"]
    assert curve_horizons(columns) == [30, 90, 180]
    assert curve_horizons(["probability", "next_renewal"]) == []


def test_a_lookup_holds_the_curve_the_renewal_and_the_days_to_it(make_scores):
    rows = make_scores(["A", "B", "C"], curve=True).to_dict("records")
    got = curve_fields(rows[1], [30, 60, 90, 180])
    assert got == {
        "risk_curve": [
            {"horizon_days": 30, "probability": 0.25},
            {"horizon_days": 60, "probability": 0.28},
            {"horizon_days": 90, "probability": 0.3},
            {"horizon_days": 180, "probability": 0.45},
        ],
        "next_renewal": "2026-02-20",
        "days_to_renewal": -10,  # a payment lapse: the renewal already passed
        "p_churn_by_renewal": 0.25,
    }
    unknown = rows[2] | {"next_renewal": pd.NaT, "p_churn_by_renewal": np.nan}
    assert curve_fields(unknown, [30, 60, 90, 180])["next_renewal"] is None
    assert curve_fields(unknown, [30, 60, 90, 180])["days_to_renewal"] is None
    assert curve_fields(unknown, [30, 60, 90, 180])["p_churn_by_renewal"] is None


def test_a_week_scored_before_the_curve_answers_null(make_scores):
    row = make_scores(["A"]).to_dict("records")[0]
    assert curve_fields(row, []) == dict.fromkeys(
        ["next_renewal", "days_to_renewal", "p_churn_by_renewal", "risk_curve"]
    )
    assert renewals_due(make_scores(["A", "B"]), 90).empty


def test_renewals_due_leave_out_unknown_and_later_renewals(make_scores):
    scores = make_scores(["A", "B", "C"], curve=True)
    scores.loc[0, ["next_renewal", "p_churn_by_renewal"]] = [pd.NaT, np.nan]
    due = renewals_due(scores, 30)
    assert due["account_id"].tolist() == ["ACC-00002", "ACC-00003"]
    assert due["days_to_renewal"].tolist() == [-10, 30]
    assert due["at_stake"].tolist() == [500 * 0.25, 100 * 0.03]
    assert renewals_due(scores, 29)["account_id"].tolist() == ["ACC-00002"]


def test_live_rows_get_the_curve_and_their_own_days_to_the_renewal():
    curve = pd.DataFrame(
        {
            "p_churn_30d": [0.1, 0.2],
            "p_churn_90d": [0.3, 0.4],
            "p_churn_by_renewal": [0.2, np.nan],
            "next_renewal": pd.NaT,
        }
    )
    rows = [{"account_days_to_renewal": 45}, {"account_days_to_renewal": None}]
    got = live_curve(curve, rows)
    assert got[0] == {
        "risk_curve": [
            {"horizon_days": 30, "probability": 0.1},
            {"horizon_days": 90, "probability": 0.3},
        ],
        "next_renewal": None,
        "days_to_renewal": 45,
        "p_churn_by_renewal": 0.2,
    }
    assert got[1]["days_to_renewal"] is None and got[1]["p_churn_by_renewal"] is None
    # A model without a curve: no curve, no renewal probability, the feature still said.
    assert live_curve(None, rows)[0] == {
        "risk_curve": None,
        "next_renewal": None,
        "days_to_renewal": 45,
        "p_churn_by_renewal": None,
    }
