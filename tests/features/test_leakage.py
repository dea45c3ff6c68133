"""Leakage: rows dated on or after `as_of` never change the features of that snapshot."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from data.params import BaseParams
from features.families import FAMILIES
from features.params import FeaturesParams
from features.stages import features

KEYS = ["account_id", "as_of", "life"]
# The calendar starts at the first paid day here: with `all_sources`, deleting every row of
# a source would move the start of the whole calendar, which is a property of the export,
# not a feature of any snapshot.
PARAMS = FeaturesParams(event_types=["export"], threads=1, history_start="subscriptions")
# table -> the column that dates a row (each family's `first_row`)
DATED = {"subscriptions": "start_date"} | {f.source: f.first_row for f in FAMILIES if f.first_row}


def run(write, tables, export: dt.date) -> tuple[pd.DataFrame, list[str]]:
    with tempfile.TemporaryDirectory(prefix="leak-") as tmp:
        folder = Path(tmp)
        manifest = features(
            write(folder / "in", tables, export), folder / "out", BaseParams(), PARAMS
        )
        return pd.read_parquet(folder / "out" / "snapshots.parquet"), manifest.feature_names


def _when(day: pd.Timestamp, table: str, draw) -> object:
    if table in ("subscriptions", "manager_ratings"):
        return day
    # A microsecond after midnight, or late in the day: both are "on" that UTC day.
    return day + pd.Timedelta(microseconds=draw(st.sampled_from([0, 1, 86_399_999_999])))


def mutate(tables, table: str, account: str, as_of: pd.Timestamp, draw):
    """Add, edit or delete one row of `account` in `table` dated on or after `as_of`."""
    frame = tables[table].copy()
    col = DATED[table]
    dates = pd.to_datetime(frame[col]).dt.floor("D")
    later = frame.index[(dates >= as_of) & (frame["account_id"] == account)]
    action = draw(st.sampled_from(["add", "edit", "delete"] if len(later) else ["add"]))
    day = as_of + pd.Timedelta(days=draw(st.integers(0, 40)))
    if action == "delete":
        frame = frame.drop(draw(st.sampled_from(list(later))))
    else:
        source = frame.loc[draw(st.sampled_from(list(later if action == "edit" else frame.index)))]
        row = source.to_dict() | {"account_id": account}
        row[col] = _when(day, table, draw)
        if table == "tickets":
            row["closed_at"] = None if draw(st.booleans()) else row[col] + pd.Timedelta(hours=5)
            row["priority"], row["csat"] = "urgent", draw(st.sampled_from([None, 1, 5]))
            row["ticket_id"] = row["ticket_id"] if action == "edit" else "new-ticket"
        elif table == "usage_events":
            row["event_type"], row["quantity"] = draw(st.sampled_from(["export", "new"])), 3.0
        elif table == "subscriptions":
            row["end_date"] = None if draw(st.booleans()) else day + pd.Timedelta(days=29)
            row["mrr"] = 999.0
        elif table == "manager_ratings":
            row["risk_rating"] = draw(st.integers(1, 4))
        if action == "edit":
            frame.loc[source.name] = pd.Series(row)
        else:
            frame = pd.concat([frame, pd.DataFrame([row])], ignore_index=True)
    return tables | {table: frame}


def close_later(tables, account: str, as_of: pd.Timestamp, draw):
    """Re-close a ticket that is open at `as_of` on a later day with another CSAT."""
    frame = tables["tickets"].copy()
    opened, closed = pd.to_datetime(frame["opened_at"]), pd.to_datetime(frame["closed_at"])
    open_then = (opened < as_of) & (closed.isna() | (closed >= as_of))
    candidates = frame.index[open_then & (frame["account_id"] == account)]
    if len(candidates):
        pick = draw(st.sampled_from(list(candidates)))
        frame.loc[pick, "closed_at"] = as_of + pd.Timedelta(days=draw(st.integers(0, 9)))
        frame.loc[pick, "csat"] = draw(st.sampled_from([1, 5]))
    return tables | {"tickets": frame}


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_rows_on_or_after_as_of_never_change_that_snapshots_features(
    data, world, write_validated_at
) -> None:
    tables, export = world(5, n_accounts=8, days=220)
    base, names = baseline(write_validated_at, tables, export)
    snap = base.iloc[data.draw(st.integers(0, len(base) - 1), label="snapshot row")]
    account, as_of = snap["account_id"], pd.Timestamp(snap["as_of"])
    table = data.draw(st.sampled_from([*DATED, "closing"]), label="table")
    if table == "closing":
        changed = close_later(tables, account, as_of, data.draw)
    else:
        changed = mutate(tables, table, account, as_of, data.draw)
    after, _ = run(write_validated_at, changed, export)
    # Every snapshot up to as_of: the change is dated on or after all of them.
    before = base[pd.to_datetime(base["as_of"]) <= as_of]
    merged = before.merge(after, on=KEYS, suffixes=("", "_after"))
    assert len(merged) >= 1
    for name in names:
        a, b = merged[name], merged[f"{name}_after"]
        same = (a == b) | (a.isna() & b.isna())
        assert same.all(), f"{name} changed at {merged.loc[~same, KEYS].head(3)}"


_BASELINE: dict = {}


def baseline(write, tables, export):
    if "base" not in _BASELINE:
        _BASELINE["base"] = run(write, tables, export)
    return _BASELINE["base"]
