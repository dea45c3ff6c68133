"""Learning key use-case events: mutual information, ties by name, only older snapshots."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from features.key_events import _presence_counts, rank_key_events


def counts(rows: list[tuple[str, int, int]], n: int = 100, n_churned: int = 50) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=["event_type", "present", "churned_present"])
    return frame.assign(n=n, n_churned=n_churned)


def test_types_rank_by_information_ties_by_name_and_uninformative_ones_drop() -> None:
    table = counts([("a", 50, 25), ("c", 50, 5), ("b", 50, 45), ("d", 10, 9)])
    assert rank_key_events(table, 2) == ["b", "c"]
    assert rank_key_events(table, 5) == ["b", "c", "d"]  # "a" says nothing about churn
    assert rank_key_events(table, 0) == []
    assert rank_key_events(table.iloc[:0], 3) == []


def test_only_snapshots_a_horizon_before_the_last_labeled_one_are_used() -> None:
    con = duckdb.connect()
    d = dt.date
    keys = pd.DataFrame(
        {
            "sid": [1, 2, 3, 4],
            "a": [1, 2, 1, 2],
            "as_of": [d(2024, 1, 8), d(2024, 1, 8), d(2024, 5, 6), d(2024, 6, 3)],
            "churned": pd.array([1, 0, 1, None], dtype="Int8"),
        }
    )
    usage_adt = pd.DataFrame(
        {
            "a": [1, 1, 2],
            # b used "early" 29 days before its 01-08 snapshot: outside the 28-day window
            "day": [d(2024, 1, 7), d(2024, 5, 1), d(2023, 12, 10)],
            "e": [1, 2, 1],
            "events": [1.0, 1.0, 1.0],
        }
    )
    con.register("keys", keys)
    con.register("usage_adt", usage_adt)
    con.register("etypes", pd.DataFrame({"event_type": ["early", "late"], "e": [1, 2]}))
    # Last labeled as_of is 2024-05-06, so training stops at 2024-02-06 with a 90-day horizon.
    got = _presence_counts(con, horizon_days=90).sort_values("event_type")
    assert got.to_dict("records") == [
        {"event_type": "early", "present": 1, "churned_present": 1, "n": 2, "n_churned": 1}
    ]
