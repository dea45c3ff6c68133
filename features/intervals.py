"""Billing intervals: read from the export's free text, and labelled for people."""

from __future__ import annotations

import re

import pandas as pd

from features.family import Connection

_NAMED = {
    "daily": (0, 1),
    "weekly": (0, 7),
    "biweekly": (0, 14),
    "monthly": (1, 0),
    "bimonthly": (2, 0),
    "quarterly": (3, 0),
    "semiannual": (6, 0),
    "semiannually": (6, 0),
    "half_yearly": (6, 0),
    "annual": (12, 0),
    "annually": (12, 0),
    "yearly": (12, 0),
    "biennial": (24, 0),
}
_UNITS = {"day": (0, 1), "week": (0, 7), "month": (1, 0), "year": (12, 0)}
_ISO_UNITS = {"D": (0, 1), "W": (0, 7), "M": (1, 0), "Y": (12, 0)}


def parse_interval(text: str | None) -> tuple[int, int] | None:
    """A billing interval as (months, days), one of them 0; None when it cannot be read.

    Reads names (`monthly`, `annual`, `quarterly`, ...), counts (`3 months`, `1 year`,
    `90 days`, `2 weeks`) and ISO 8601 durations (`P1M`, `P1Y`, `P90D`).
    """
    if text is None or pd.isna(text):
        return None
    clean = re.sub(r"[\s\-]+", "_", str(text).strip().lower())
    if clean in _NAMED:
        return _NAMED[clean]
    count = re.fullmatch(r"(\d+)_?(day|week|month|year)s?", clean)
    iso = re.fullmatch(r"p(\d+)([dwmy])", clean)
    if count:
        n, unit = int(count.group(1)), _UNITS[count.group(2)]
    elif iso:
        n, unit = int(iso.group(1)), _ISO_UNITS[iso.group(2).upper()]
    else:
        return None
    return (n * unit[0], n * unit[1]) if n > 0 else None


def interval_label(months: int | None, days: int | None) -> str | None:
    """A readable name for (months, days): `monthly`, `annual`, `3 months`, `14 days`."""
    names = {1: "monthly", 3: "quarterly", 6: "semiannual", 12: "annual"}
    if months:
        return names.get(months, f"{months} months")
    return f"{days} days" if days else None


def register_intervals(con: Connection) -> None:
    """Table `intervals(billing_interval, months, days)` of the values the export uses."""
    values = [
        v for (v,) in con.execute("SELECT DISTINCT billing_interval FROM subscriptions").fetchall()
    ]
    parsed = {v: parse_interval(v) for v in values if v is not None}
    frame = pd.DataFrame(
        [(v, p[0], p[1]) for v, p in parsed.items() if p is not None],
        columns=["billing_interval", "months", "days"],
    ).astype({"billing_interval": "str", "months": "int32", "days": "int32"})
    con.register("intervals_frame", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE intervals AS SELECT * FROM intervals_frame")
    con.unregister("intervals_frame")


def label_intervals(con: Connection) -> None:
    """Turn (iv_months, iv_days) of `f_accounts` into the `account_billing_interval` label."""
    pairs = con.execute(
        "SELECT DISTINCT iv_months, iv_days FROM f_accounts WHERE iv_months IS NOT NULL"
    ).fetchall()
    frame = pd.DataFrame(
        [(m, d, interval_label(m, d)) for m, d in pairs],
        columns=["iv_months", "iv_days", "account_billing_interval"],
    ).astype({"iv_months": "int32", "iv_days": "int32", "account_billing_interval": "str"})
    con.register("labels_frame", frame)
    con.execute(
        """CREATE OR REPLACE TEMP TABLE f_accounts AS
        SELECT f.* EXCLUDE (iv_months, iv_days), l.account_billing_interval
        FROM f_accounts f LEFT JOIN labels_frame l USING (iv_months, iv_days)"""
    )
    con.unregister("labels_frame")
