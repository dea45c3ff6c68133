"""Pieces of the sentences a manager reads for a feature's value (used by the families' phrases).

A family's phrases turn a present value (and the rest of the account's row, for its own
baseline) into one short sentence; `evaluation.reasons` picks and joins them.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

Row = Mapping[str, Any]
Phrase = Callable[[float, Row], str]


def num(value: Any) -> float | None:
    """A float, or None for missing values of any kind."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number


def count(n: float, one: str, many: str | None = None) -> str:
    """`n` with its noun, singular or plural: `1 ticket`, `3 tickets`."""
    word = one if round(n) == 1 else (many or one + "s")
    return f"{n:,.0f} {word}"


def days(n: float) -> str:
    """`n` days, in words."""
    return count(n, "day")


def weekly(row: Row, column: str, window: int) -> float | None:
    """The account's own 90-day rate of `column`, scaled to `window` days."""
    total = num(row.get(column))
    return None if total is None else total / 90 * window


def usual(value: float, usual: float | None, fmt: str = "{:,.0f}") -> str:
    """` (usually X)` when the account's usual value differs clearly from `value`."""
    if usual is None or abs(value - usual) < max(0.5, 0.15 * usual):
        return ""
    return f" (usually {fmt.format(usual)})"


def events(window: int, what: str, baseline: str) -> Phrase:
    """Counts of `what` over `window` days, beside the usual count (from 90-day `baseline`)."""

    def say(v: float, row: Row) -> str:
        typical = weekly(row, baseline, window) if window < 90 else None
        return f"{count(v, what)} in the last {window} days" + usual(v, typical)

    return say
