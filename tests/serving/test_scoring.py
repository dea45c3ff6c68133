"""Movers and the score columns on inline rows (no model)."""

from __future__ import annotations

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
