"""How the weekly report writes a value: money, percentages, days, ratings, names, renewals.

Each takes what a scores row holds (None and NaN included: the export leaves things out, and
older weeks lack newer columns) and returns the text the page shows.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from serving.curves import renewal_of

MISSING = "–"


def money(value: Any) -> str:
    """12,345 (no currency: the export's own)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return MISSING
    return f"{value:,.0f}"


def age(value: Any) -> str:
    """Days since something happened: "12 d", or "never"."""
    if value is None or pd.isna(value):
        return "never"
    return f"{int(value)} d"


def pct(value: Any, signed: bool = False) -> str:
    """A probability as a percentage ("34%"), or a change in points ("+2.0 pts")."""
    if value is None or pd.isna(value):
        return MISSING
    return f"{value * 100:+.1f} pts" if signed else f"{value * 100:.0f}%"


def points(share: float) -> str:
    """A probability share as points of probability: 0.005 -> "0.5 points"."""
    return f"{share * 100:g} points"


def lead(days: Any) -> str:
    """A lead time in days."""
    return MISSING if days is None or pd.isna(days) else f"{days:.0f} d"


def rating(value: Any) -> str:
    """A manager's rating, 1-4."""
    return MISSING if value is None or pd.isna(value) else str(int(value))


def text(value: Any) -> str | None:
    """A non-empty string, else None (names and ids an export may leave out)."""
    return (value.strip() or None) if isinstance(value, str) else None


def until(days: int | None) -> str:
    """Days to a renewal: "in 12 d", "today", or "12 d overdue" (a payment lapse)."""
    if days is None:
        return ""
    if days == 0:
        return "today"
    return f"in {days} d" if days > 0 else f"{-days} d overdue"


def renewal(row: Mapping[Any, Any]) -> dict[str, str]:
    """A scores row's next renewal as the account tables show it: date, when, P(churn by it)."""
    got = renewal_of(row)
    if got["next_renewal"] is None:
        return {"date": "unknown", "when": "", "p": ""}
    return {
        "date": got["next_renewal"].isoformat(),
        "when": until(got["days_to_renewal"]),
        "p": pct(got["p_churn_by_renewal"]),
    }
