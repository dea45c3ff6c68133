"""Account and money features: tenure, life, segment, MRR, plan, billing interval, renewal.

Everything here is as known on `as_of`, whichever way the export writes a subscription row that
was still running then (its billed end date, no end date, or an end rewritten later when the
contract ended early or the plan changed). So the end date of a row running on `as_of` is never
read: it may be the future.

- The **current rows** are those that started before `as_of` and cover the day before it (an end
  date, of whatever kind, on or after `as_of - 1`, or none). MRR now is their summed mrr; plan,
  billing interval and renewal come from the largest of them (ties: the latest start, then plan).
- The **billing interval** of that row, first known of: its `billing_interval` value; the usual
  length of the plan's periods renewed before `as_of` (any account); the length of the account's
  own last period renewed before `as_of`. A period is *renewed* when the account's next row
  starts within `RENEWED_WITHIN_DAYS` of its end, and it is known once that row has started;
  its length in whole months is its interval (periods under `MIN_INFERRED_DAYS` tell none).
- The **renewal** is the first date `start + k * interval` (k >= 1) on or after `as_of`,
  stepping period by period from the running row's start (so one row that spans many periods
  works too). In a payment lapse (no current row) it is the day after the last paid day, in
  the past. Unknown interval: the renewal stays empty and the yearly and monthly
  anniversaries of the running row's start time it instead (contracts renew on those dates).
"""

from __future__ import annotations

import re

import duckdb
import pandas as pd

from features.manifest import Feature

RENEWED_WITHIN_DAYS = 3  # a period is renewed by a row starting this soon after its end
MIN_INFERRED_DAYS = 16  # shorter renewed periods (a plan changed mid-period) tell no interval
DAYS_PER_MONTH = 30.4375
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


def _f(name: str, dtype: str, unit: str, text: str) -> Feature:
    return Feature(name, dtype, "account", None, unit, text)  # type: ignore[arg-type]


def account_features() -> list[Feature]:
    """The account features, in column order."""
    return [
        _f("account_tenure_days", "int", "days", "Days since the account signed up"),
        _f("account_life", "int", "count", "1 for a first subscription, 2 after one comeback..."),
        _f("account_life_days", "int", "days", "Days since the current subscription run began"),
        _f("account_segment", "category", "label", "Service tier"),
        _f("account_mrr_now", "float", "currency/month", "Monthly recurring revenue now"),
        Feature(
            "account_mrr_change_90d",
            "float",
            "account",
            "90d",
            "currency/month",
            "Change in monthly revenue over the last 90 days",
        ),
        _f("account_plan", "category", "label", "Current plan"),
        _f("account_billing_interval", "category", "label", "Billing interval"),
        _f(
            "account_days_to_renewal",
            "int",
            "days",
            "Days until the next renewal (negative: days since the paid period ended)",
        ),
        _f(
            "account_days_to_anniversary",
            "int",
            "days",
            "Days until the next yearly anniversary of the subscription's start "
            "(when the billing interval is unknown)",
        ),
        _f(
            "account_days_to_monthiversary",
            "int",
            "days",
            "Days until the next monthly anniversary of the subscription's start "
            "(when the billing interval is unknown)",
        ),
        _f("account_industry", "category", "label", "Industry"),
        _f("account_region", "category", "label", "Region"),
    ]


def _register_intervals(con: duckdb.DuckDBPyConnection) -> None:
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


def _next(unit: str, start: str, step: str) -> str:
    """SQL: the first date `start + k * step units` (k >= 1) on or after `k.as_of`."""
    n = f"(date_diff('{unit}', {start}, k.as_of) // {step})"
    at = f"CAST(date_add({start}, to_{unit}s({n} * {step})) AS DATE)"
    after = f"CAST(date_add({start}, to_{unit}s(({n} + 1) * {step})) AS DATE)"
    return f"(CASE WHEN {at} >= k.as_of THEN {at} ELSE {after} END)"


def build_accounts(con: duckdb.DuckDBPyConnection) -> list[Feature]:
    """Create table `f_accounts` (sid, extras, account features) from accounts/subscriptions."""
    _register_intervals(con)
    far = "DATE '9999-12-31'"
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE renewed AS
        WITH starts AS (SELECT DISTINCT account_id, start_date AS next_start FROM subscriptions),
        closed AS (SELECT account_id, plan, start_date, end_date,
                   CAST(end_date - start_date + 1 AS INTEGER) AS length
                   FROM subscriptions WHERE end_date IS NOT NULL),
        followed AS (SELECT c.*, n.next_start FROM closed c ASOF JOIN starts n
                     ON c.account_id = n.account_id AND n.next_start >= c.end_date)
        SELECT account_id, plan, CAST(next_start + 1 AS DATE) AS known_from,
               CAST(round(length / {DAYS_PER_MONTH}) AS INTEGER) AS months, 0 AS days
        FROM followed WHERE next_start - end_date <= {RENEWED_WITHIN_DAYS}
        AND length >= {MIN_INFERRED_DAYS}"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE plan_intervals AS
        WITH counts AS (SELECT plan, months, days, known_from, count(*) AS n
                        FROM renewed WHERE plan IS NOT NULL GROUP BY ALL),
        dates AS (SELECT DISTINCT as_of FROM keys),
        seen AS (SELECT d.as_of, c.plan, c.months, c.days, sum(c.n) AS n
                 FROM dates d JOIN counts c ON c.known_from <= d.as_of GROUP BY ALL)
        SELECT as_of, plan, arg_max({'months': months, 'days': days}, (n, months, days)) AS iv
        FROM seen GROUP BY ALL"""
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE f_accounts AS
        WITH cover AS (SELECT k.sid, k.as_of, s.* EXCLUDE (account_id) FROM keys k
            JOIN subscriptions s ON k.account_id = s.account_id
            AND s.start_date <= k.as_of AND coalesce(s.end_date, {far}) >= k.as_of - 1),
        now AS (SELECT sid,
            coalesce(sum(mrr) FILTER (WHERE start_date < as_of), 0) AS mrr_now,
            sum(mrr) FILTER (WHERE coalesce(end_date, {far}) >= as_of) AS mrr_in_force
            FROM cover GROUP BY sid),
        main AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY sid ORDER BY mrr DESC,
                 start_date DESC, plan NULLS LAST, billing_interval NULLS LAST) AS rn
                 FROM cover WHERE start_date < as_of) WHERE rn = 1),
        last AS (SELECT account_id, known_from, max(months) AS months FROM renewed GROUP BY ALL),
        own AS (SELECT k.sid, {{'months': r.months, 'days': 0}} AS iv FROM keys k
                ASOF JOIN last r ON k.account_id = r.account_id AND k.as_of >= r.known_from),
        ended AS (SELECT account_id, end_date FROM subscriptions WHERE end_date IS NOT NULL),
        paid AS (SELECT k.sid, s.end_date AS last_paid FROM keys k ASOF JOIN ended s
                 ON k.account_id = s.account_id AND k.as_of > s.end_date),
        ago AS (SELECT k.sid, sum(s.mrr) AS mrr FROM keys k JOIN subscriptions s
            ON k.account_id = s.account_id AND s.start_date <= k.as_of - 91
            AND coalesce(s.end_date, {far}) >= k.as_of - 91 GROUP BY k.sid),
        timed AS (SELECT k.sid, m.start_date AS run_start, coalesce(
                CASE WHEN i.months IS NOT NULL THEN {{'months': i.months, 'days': i.days}} END,
                p.iv, o.iv) AS iv
            FROM keys k JOIN main m USING (sid)
            LEFT JOIN intervals i ON m.billing_interval = i.billing_interval
            LEFT JOIN plan_intervals p ON p.as_of = k.as_of AND p.plan = m.plan
            LEFT JOIN own o USING (sid))
        SELECT k.sid, a.csm_id, a.segment, n.mrr_in_force AS mrr, a.name AS account_name,
        CAST(k.as_of - a.created_at AS INTEGER) AS account_tenure_days,
        k.life AS account_life,
        CAST(k.as_of - k.life_start AS INTEGER) AS account_life_days,
        a.segment AS account_segment,
        coalesce(n.mrr_now, 0) AS account_mrr_now,
        coalesce(n.mrr_now, 0) - coalesce(g.mrr, 0) AS account_mrr_change_90d,
        m.plan AS account_plan,
        t.iv.months AS iv_months, t.iv.days AS iv_days,
        CAST(CASE
            WHEN t.iv.months > 0 THEN {_next("month", "t.run_start", "t.iv.months")} - k.as_of
            WHEN t.iv.days > 0 THEN {_next("day", "t.run_start", "t.iv.days")} - k.as_of
            WHEN m.sid IS NULL AND pd.last_paid IS NOT NULL THEN pd.last_paid + 1 - k.as_of
            END AS INTEGER) AS account_days_to_renewal,
        CASE WHEN t.iv IS NULL AND m.sid IS NOT NULL
             THEN CAST({_next("month", "m.start_date", "12")} - k.as_of AS INTEGER)
             END AS account_days_to_anniversary,
        CASE WHEN t.iv IS NULL AND m.sid IS NOT NULL
             THEN CAST({_next("month", "m.start_date", "1")} - k.as_of AS INTEGER)
             END AS account_days_to_monthiversary,
        a.industry AS account_industry, a.region AS account_region
        FROM keys k JOIN accounts a USING (account_id) LEFT JOIN now n USING (sid)
        LEFT JOIN main m USING (sid) LEFT JOIN timed t USING (sid)
        LEFT JOIN paid pd USING (sid) LEFT JOIN ago g USING (sid)"""
    )
    _label_intervals(con)
    return account_features()


def _label_intervals(con: duckdb.DuckDBPyConnection) -> None:
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
