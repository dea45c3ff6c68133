"""An export as written on an earlier day: what the same world's tables showed on that day."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from data.world.tables import to_dates

_SECONDS = 86400


def written_tables(tables: dict[str, pd.DataFrame], day: int) -> dict[str, pd.DataFrame]:
    """Accounts, tickets, contacts and ratings as an export written on day `day` shows them.

    Nothing dated on or after `day`: accounts created, tickets opened, contacts and ratings
    then are left out; a ticket closed on or after `day` is still open (no `closed_at`, no
    `csat`). The tables come from the full export with their private `_`-columns (UTC
    seconds), which are dropped here; every kept row is the full export's row.
    """
    cut = day * _SECONDS
    out = dict(tables)
    accounts = tables["accounts"]
    out["accounts"] = accounts[accounts["created_at"] < to_dates(day)]
    tickets = tables["tickets"]
    tickets = tickets[tickets["_opened"] < cut].copy()
    later = tickets["_closed"] >= cut
    tickets["closed_at"] = tickets["closed_at"].mask(later)
    tickets["csat"] = tickets["csat"].mask(later)
    out["tickets"] = tickets
    out["contacts"] = tables["contacts"][tables["contacts"]["_at"] < cut]
    ratings = tables["manager_ratings"]
    out["manager_ratings"] = ratings[ratings["rated_at"] < to_dates(day)]
    return {
        name: frame.drop(columns=[c for c in frame.columns if c.startswith("_")]).reset_index(
            drop=True
        )
        for name, frame in out.items()
    }


def written_usage(table: pa.Table, day: int) -> pa.Table:
    """Usage rows (UTC `...Z` timestamps) before day `day`."""
    first = str(to_dates(day))  # "2026-03-02T00:00:00Z" sorts after "2026-03-02"
    return table.filter(pc.less(table["occurred_at"], pa.scalar(first)))
