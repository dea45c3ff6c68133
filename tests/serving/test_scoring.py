"""Movers and the score columns on inline rows (no model)."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

from serving.scoring import LIST_COLUMNS, SCORE_COLUMNS, csv_frame, mover_texts

FEATURES = ["x_a", "x_b", "x_c"]
ENTRIES = {
    name: {"name": name, "dtype": "float", "unit": "", "description": f"Feature {name[-1]}"}
    for name in FEATURES
}


def test_movers_are_the_n_biggest_moves_over_min_contribution_strongest_first():
    moved = np.array([[0.02, -0.08, 0.004], [0.001, 0.002, -0.003]])
    records = [{"x_a": 1.0, "x_b": 2.0, "x_c": 3.0}, {"x_a": 1.0, "x_b": 2.0, "x_c": 3.0}]
    texts = mover_texts(moved, FEATURES, ENTRIES, records, n=3, min_contribution=0.005)
    assert texts == [["Feature b: 2 (-8.0 pts)", "Feature a: 1 (+2.0 pts)"], []]
    # Only the n biggest are candidates; the threshold then drops the small ones among them.
    assert mover_texts(moved, FEATURES, ENTRIES, records, 1, 0.005) == [
        ["Feature b: 2 (-8.0 pts)"],
        [],
    ]
    assert mover_texts(moved, FEATURES, ENTRIES, records, 3, 0.03) == [
        ["Feature b: 2 (-8.0 pts)"],
        [],
    ]
    assert mover_texts(moved, FEATURES, ENTRIES, records, 3, 0.0)[1] == [
        "Feature c: 3 (-0.3 pts)",
        "Feature b: 2 (+0.2 pts)",
        "Feature a: 1 (+0.1 pts)",
    ]


def test_a_missing_value_is_never_a_mover():
    moved = np.array([[0.02, -0.08, 0.01]])
    records = [{"x_a": 1.0, "x_b": None, "x_c": 3.0}]
    assert mover_texts(moved, FEATURES, ENTRIES, records, 2, 0.005) == [
        ["Feature a: 1 (+2.0 pts)", "Feature c: 3 (+1.0 pts)"]
    ]


def test_the_score_columns_are_one_list_keyed_by_rank_and_account():
    # A CRM import may map scores.csv by position: the key columns lead, the display name
    # (added last) follows the lists.
    assert SCORE_COLUMNS[:4] == ("rank", "account_id", "as_of", "probability")
    assert SCORE_COLUMNS.index("account_name") > SCORE_COLUMNS.index("movers")
    assert len(set(SCORE_COLUMNS)) == len(SCORE_COLUMNS)
    assert set(LIST_COLUMNS) <= set(SCORE_COLUMNS)


def test_the_csv_has_the_score_columns_in_order_and_lists_joined():
    row = {c: 1.0 for c in SCORE_COLUMNS} | {
        "reasons_up": ["Renewal in 7 days", "4 urgent tickets"],
        "reasons_down": [],
        "movers": ["Fewer logins (+3.0 pts)"],
    }
    scrambled = pd.DataFrame([row])[list(reversed(SCORE_COLUMNS))].assign(extra=0)
    out = csv_frame(scrambled)
    assert tuple(out.columns) == SCORE_COLUMNS
    assert out.loc[0, "reasons_up"] == "Renewal in 7 days | 4 urgent tickets"
    assert out.loc[0, "reasons_down"] == ""
    assert out.loc[0, "movers"] == "Fewer logins (+3.0 pts)"
    assert scrambled.loc[0, "reasons_up"] == ["Renewal in 7 days", "4 urgent tickets"]


def test_the_csv_writes_plain_iso_dates_and_the_curve_as_every_probability(make_scores):
    scores = make_scores(["Acme GmbH", "Globex", "Initech"], curve=True)
    scores.loc[2, ["next_renewal", "p_churn_by_renewal"]] = [pd.NaT, np.nan]
    scores.loc[0, "next_renewal"] = pd.Timestamp("2026-03-20 06:00")  # a time part stays out
    scores["p_churn_90d"] = scores["probability"] = [0.6, 1 / 3, 0.05]  # a long decimal
    lines = csv_frame(scores).to_csv(index=False).splitlines()
    header = lines[0].split(",")
    curve = ["p_churn_30d", "p_churn_60d", "p_churn_90d", "p_churn_180d"]
    assert header == [*SCORE_COLUMNS, *curve, "next_renewal", "p_churn_by_renewal"]
    rows = [dict(zip(header, line.split(","), strict=True)) for line in lines[1:]]
    assert [r["as_of"] for r in rows] == ["2026-03-02"] * 3
    assert [r["next_renewal"] for r in rows] == ["2026-03-20", "2026-02-20", ""]
    assert [r["p_churn_by_renewal"] for r in rows] == ["0.15", "0.25", ""]
    # The headline's point of the curve is written exactly as `probability` is, digit for digit.
    assert [r["p_churn_90d"] for r in rows] == [r["probability"] for r in rows]
    assert rows[1]["probability"] == repr(1 / 3)
    back = pd.read_csv(io.StringIO("\n".join(lines)))
    assert back["p_churn_180d"].tolist() == scores["p_churn_180d"].tolist()


def test_the_csv_of_a_week_without_the_curve_keeps_the_fixed_columns(make_scores):
    scores = make_scores(["Acme GmbH", "Globex"])
    frame = csv_frame(scores)
    assert list(frame.columns) == list(SCORE_COLUMNS)
    assert frame["as_of"].tolist() == ["2026-03-02", "2026-03-02"]
