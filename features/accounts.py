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

from functools import partial
from typing import Any

from features.family import Connection, Family, feature
from features.intervals import label_intervals, register_intervals
from features.manifest import EXTRA_COLUMNS, Feature
from features.phrases import Row, count, days

RENEWED_WITHIN_DAYS = 3  # a period is renewed by a row starting this soon after its end
MIN_INFERRED_DAYS = 16  # shorter renewed periods (a plan changed mid-period) tell no interval
DAYS_PER_MONTH = 30.4375
_FAR = "DATE '9999-12-31'"
_f = partial(feature, "account")


def account_features(_: Any = None) -> list[Feature]:
    """The account features, in column order."""
    return [
        _f("account_tenure_days", "int", None, "days", "Days since the account signed up"),
        _f(
            "account_life",
            "int",
            None,
            "count",
            "1 for a first subscription, 2 after one comeback...",
        ),
        _f(
            "account_life_days",
            "int",
            None,
            "days",
            "Days since the current subscription run began",
        ),
        _f("account_segment", "category", None, "label", "Service tier"),
        _f("account_mrr_now", "float", None, "currency/month", "Monthly recurring revenue now"),
        _f(
            "account_mrr_change_90d",
            "float",
            "90d",
            "currency/month",
            "Change in monthly revenue over the last 90 days",
        ),
        _f("account_plan", "category", None, "label", "Current plan"),
        _f("account_billing_interval", "category", None, "label", "Billing interval"),
        _f(
            "account_days_to_renewal",
            "int",
            None,
            "days",
            "Days until the next renewal (negative: days since the paid period ended)",
        ),
        _f(
            "account_days_to_anniversary",
            "int",
            None,
            "days",
            "Days until the next yearly anniversary of the subscription's start "
            "(when the billing interval is unknown)",
        ),
        _f(
            "account_days_to_monthiversary",
            "int",
            None,
            "days",
            "Days until the next monthly anniversary of the subscription's start "
            "(when the billing interval is unknown)",
        ),
        _f("account_industry", "category", None, "label", "Industry"),
        _f("account_region", "category", None, "label", "Region"),
    ]


def _next(unit: str, start: str, step: str) -> str:
    """SQL: the first date `start + k * step units` (k >= 1) on or after `k.as_of`."""
    months = f"((year(k.as_of) - year({start})) * 12 + month(k.as_of) - month({start}))"
    apart = months if unit == "month" else f"date_diff('day', {start}, k.as_of)"
    n = f"({apart} // {step})"
    at = f"CAST(date_add({start}, to_{unit}s({n} * {step})) AS DATE)"
    after = f"CAST(date_add({start}, to_{unit}s(({n} + 1) * {step})) AS DATE)"
    return f"(CASE WHEN {at} >= k.as_of THEN {at} ELSE {after} END)"


def _days_to(date: str) -> str:
    """SQL: days from `k.as_of` to `date`."""
    return f"date_diff('day', k.as_of, {date})"


def _infer_intervals(con: Connection) -> None:
    """Tables `renewed` (periods renewed, their length) and `plan_intervals` (per as_of, plan)."""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE renewed AS
        WITH starts AS (SELECT DISTINCT account_id, start_date AS next_start FROM subscriptions),
        closed AS (SELECT account_id, plan, start_date, end_date,
                   CAST(date_diff('day', start_date, end_date) + 1 AS INTEGER) AS length
                   FROM subscriptions WHERE end_date IS NOT NULL),
        followed AS (SELECT c.*, n.next_start FROM closed c ASOF JOIN starts n
                     ON c.account_id = n.account_id AND n.next_start >= c.end_date)
        SELECT account_id, plan, CAST(next_start + 1 AS DATE) AS known_from,
               CAST(round(length / {DAYS_PER_MONTH}) AS INTEGER) AS months, 0 AS days
        FROM followed WHERE date_diff('day', end_date, next_start) <= {RENEWED_WITHIN_DAYS}
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


# Per sid: the rows covering as_of (`cover`), MRR now, the largest current row (`main`), the
# interval it is billed at (`timed`), the last paid day (`paid`) and MRR 91 days ago (`ago`).
_CURRENT = f"""
        WITH cover AS (SELECT k.sid, k.as_of, s.* EXCLUDE (account_id) FROM keys k
            JOIN subscriptions s ON k.account_id = s.account_id
            AND s.start_date <= k.as_of AND coalesce(s.end_date, {_FAR}) >= k.as_of - 1),
        now AS (SELECT sid,
            coalesce(sum(mrr) FILTER (WHERE start_date < as_of), 0) AS mrr_now,
            sum(mrr) FILTER (WHERE coalesce(end_date, {_FAR}) >= as_of) AS mrr_in_force
            FROM cover GROUP BY sid),
        main AS (SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY sid ORDER BY mrr DESC,
                 start_date DESC, plan NULLS LAST, billing_interval NULLS LAST) AS rn
                 FROM cover WHERE start_date < as_of) WHERE rn = 1),
        last AS (SELECT account_id, known_from, max(months) AS months FROM renewed GROUP BY ALL),
        own AS (SELECT k.sid, {{'months': r.months, 'days': 0}} AS iv FROM keys k
                ASOF JOIN last r ON k.account_id = r.account_id AND k.as_of >= r.known_from),
        ended AS (SELECT DISTINCT account_id, end_date FROM subscriptions
                   WHERE end_date IS NOT NULL),
        paid AS (SELECT k.sid, s.end_date AS last_paid FROM keys k ASOF JOIN ended s
                 ON k.account_id = s.account_id AND k.as_of > s.end_date),
        ago AS (SELECT k.sid, sum(s.mrr) AS mrr FROM keys k JOIN subscriptions s
            ON k.account_id = s.account_id AND s.start_date <= k.as_of - 91
            AND coalesce(s.end_date, {_FAR}) >= k.as_of - 91 GROUP BY k.sid),
        timed AS (SELECT k.sid, m.start_date AS run_start, coalesce(
                CASE WHEN i.months IS NOT NULL THEN {{'months': i.months, 'days': i.days}} END,
                p.iv, o.iv) AS iv
            FROM keys k JOIN main m USING (sid)
            LEFT JOIN intervals i ON m.billing_interval = i.billing_interval
            LEFT JOIN plan_intervals p ON p.as_of = k.as_of AND p.plan = m.plan
            LEFT JOIN own o USING (sid))
        """


def build_accounts(con: Connection, _: Any = None) -> None:
    """Create table `f_accounts` (sid, extras, account features) from accounts/subscriptions."""
    register_intervals(con)
    _infer_intervals(con)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE f_accounts AS {_CURRENT}
        SELECT k.sid, a.csm_id, a.segment, n.mrr_in_force AS mrr, a.name AS account_name,
        CAST(date_diff('day', a.created_at, k.as_of) AS INTEGER) AS account_tenure_days,
        k.life AS account_life,
        CAST(date_diff('day', k.life_start, k.as_of) AS INTEGER) AS account_life_days,
        a.segment AS account_segment,
        coalesce(n.mrr_now, 0) AS account_mrr_now,
        coalesce(n.mrr_now, 0) - coalesce(g.mrr, 0) AS account_mrr_change_90d,
        m.plan AS account_plan,
        t.iv.months AS iv_months, t.iv.days AS iv_days,
        CAST(CASE
            WHEN t.iv.months > 0 THEN {_days_to(_next("month", "t.run_start", "t.iv.months"))}
            WHEN t.iv.days > 0 THEN {_days_to(_next("day", "t.run_start", "t.iv.days"))}
            WHEN m.sid IS NULL AND pd.last_paid IS NOT NULL
            THEN {_days_to("CAST(pd.last_paid + 1 AS DATE)")}
            END AS INTEGER) AS account_days_to_renewal,
        CASE WHEN t.iv IS NULL AND m.sid IS NOT NULL
             THEN CAST({_days_to(_next("month", "m.start_date", "12"))} AS INTEGER)
             END AS account_days_to_anniversary,
        CASE WHEN t.iv IS NULL AND m.sid IS NOT NULL
             THEN CAST({_days_to(_next("month", "m.start_date", "1"))} AS INTEGER)
             END AS account_days_to_monthiversary,
        a.industry AS account_industry, a.region AS account_region
        FROM keys k JOIN accounts a USING (account_id) LEFT JOIN now n USING (sid)
        LEFT JOIN main m USING (sid) LEFT JOIN timed t USING (sid)
        LEFT JOIN paid pd USING (sid) LEFT JOIN ago g USING (sid)"""
    )
    label_intervals(con)


def _renewal(v: float, row: Row) -> str:
    if v < 0:
        return f"Renewal overdue by {days(-v)}"
    return "Renewal due today" if v == 0 else f"Renewal in {days(v)}"


def _months(v: float) -> str:
    return days(v) if v < 60 else count(v / 30.44, "month")


def _mrr_change(v: float, row: Row) -> str:
    if abs(v) < 0.5:
        return "Monthly revenue unchanged over 90 days"
    return f"Monthly revenue {'down' if v < 0 else 'up'} {abs(v):,.0f} over 90 days"


ACCOUNTS = Family(
    name="account",
    source="accounts",  # with subscriptions; both are required, so it is always built
    table="f_accounts",
    features=account_features,
    build=build_accounts,
    needs={
        ("subscriptions", "plan"): ("account_plan",),
        ("accounts", "segment"): ("account_segment",),
        ("accounts", "industry"): ("account_industry",),
        ("accounts", "region"): ("account_region",),
    },
    phrases={
        "account_days_to_renewal": _renewal,
        "account_days_to_anniversary": lambda v, r: (
            "Contract anniversary today" if v == 0 else f"Contract anniversary in {days(v)}"
        ),
        "account_days_to_monthiversary": lambda v, r: (
            "Monthly anniversary today" if v == 0 else f"Monthly anniversary in {days(v)}"
        ),
        "account_tenure_days": lambda v, r: f"Customer for {_months(v)}",
        "account_life_days": lambda v, r: f"Current subscription running for {_months(v)}",
        "account_life": lambda v, r: (
            "First subscription" if v <= 1 else f"Came back after churning (subscription {v:.0f})"
        ),
        "account_mrr_now": lambda v, r: f"Pays {v:,.0f} a month",
        "account_mrr_change_90d": _mrr_change,
    },
    extras=EXTRA_COLUMNS[1:],  # churn_date comes from the keys
)
