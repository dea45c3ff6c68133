"""Account and money features: tenure, life, segment, MRR, plan, billing interval, renewal.

The renewal is timed by the end of the current paid period or, when the export's rows are not
billing periods (below), by the monthly and yearly anniversaries of the subscription's start;
never both, which would say the same thing twice in an account's reasons.

The subscriptions seen at `as_of` are those starting before it; of those, the ones covering
the day before `as_of` are the current paid periods (their end dates are known in advance, so
the renewal distance may use them). MRR now is their summed mrr (0 when none covers it);
plan, billing interval and renewal distance come from the largest of them.

That holds only when the rows are billing periods. Some exports hold one row per unbroken
subscription instead, its end date filled in when the client cancels: there the end of a running
subscription is the churn itself, unknown at `as_of`. `billing_period_share` tells the two apart
(billing periods are renewed by the next row; a subscription row never is); below
`BILLING_PERIODS_MIN_SHARE` the features that read the end of the running period are left out.
"""

from __future__ import annotations

import datetime as dt

import duckdb

from features.manifest import Feature

MONTHLY_MAX_DAYS = 59  # periods up to this long bill monthly
ANNUAL_MIN_DAYS = 300  # periods at least this long bill annually
RENEWED_WITHIN_DAYS = 3  # a billing period is renewed by a row starting this soon after it
BILLING_PERIODS_MIN_SHARE = 0.3
READS_PERIOD_END = ("account_billing_interval", "account_days_to_period_end")
ANNIVERSARIES = ("account_days_to_anniversary", "account_days_to_monthiversary")


def billing_period_share(con: duckdb.DuckDBPyConnection, before: dt.date) -> float | None:
    """Share of rows ended before `before` that the same account renews right away (or None).

    Billing periods are mostly followed by the next one; one row per unbroken subscription
    never is (a renewal would have been the same row).
    """
    row = con.execute(
        f"""WITH ordered AS (
                SELECT end_date, lead(start_date) OVER (
                    PARTITION BY account_id ORDER BY start_date, end_date) AS next_start
                FROM subscriptions)
            SELECT avg(CASE WHEN next_start - end_date BETWEEN 0 AND {RENEWED_WITHIN_DAYS}
                       THEN 1.0 ELSE 0.0 END), count(*)
            FROM ordered WHERE end_date < ?""",
        [before],
    ).fetchone()
    share, ended = row if row else (None, 0)
    return float(share) if ended else None


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
        _f("account_billing_interval", "category", "label", "Monthly or annual billing"),
        _f("account_days_to_period_end", "int", "days", "Days until the paid period ends"),
        _f(
            "account_days_to_anniversary",
            "int",
            "days",
            "Days until the next yearly anniversary of the subscription's start",
        ),
        _f(
            "account_days_to_monthiversary",
            "int",
            "days",
            "Days until the next monthly anniversary of the subscription's start",
        ),
        _f("account_industry", "category", "label", "Industry"),
        _f("account_region", "category", "label", "Region"),
    ]


def _days_to_next(unit: str) -> str:
    """SQL: days from `as_of` to the next `unit` anniversary of the life's start (0 on the day).

    Contracts renew on these dates, so they time the renewal even when no end date is known
    in advance.
    """
    n = f"date_diff('{unit}', k.life_start, k.as_of)"
    at = f"CAST(date_add(k.life_start, to_{unit}s({n})) AS DATE)"
    after = f"CAST(date_add(k.life_start, to_{unit}s({n} + 1)) AS DATE)"
    return f"CAST(CASE WHEN {at} >= k.as_of THEN {at} ELSE {after} END - k.as_of AS INTEGER)"


def build_accounts(con: duckdb.DuckDBPyConnection) -> list[Feature]:
    """Create table `f_accounts` (sid, extras, account features) from accounts/subscriptions."""
    far = "DATE '9999-12-31'"
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
                 start_date DESC, end_date DESC NULLS FIRST, plan NULLS LAST) AS rn
                 FROM cover WHERE start_date < as_of) WHERE rn = 1),
        ago AS (SELECT k.sid, sum(s.mrr) AS mrr FROM keys k JOIN subscriptions s
            ON k.account_id = s.account_id AND s.start_date <= k.as_of - 91
            AND coalesce(s.end_date, {far}) >= k.as_of - 91 GROUP BY k.sid)
        SELECT k.sid, a.csm_id, a.segment, n.mrr_in_force AS mrr,
        CAST(k.as_of - a.created_at AS INTEGER) AS account_tenure_days,
        k.life AS account_life,
        CAST(k.as_of - k.life_start AS INTEGER) AS account_life_days,
        a.segment AS account_segment,
        coalesce(n.mrr_now, 0) AS account_mrr_now,
        coalesce(n.mrr_now, 0) - coalesce(g.mrr, 0) AS account_mrr_change_90d,
        m.plan AS account_plan,
        CASE WHEN m.end_date IS NULL THEN NULL
             WHEN m.end_date - m.start_date + 1 <= {MONTHLY_MAX_DAYS} THEN 'monthly'
             WHEN m.end_date - m.start_date + 1 >= {ANNUAL_MIN_DAYS} THEN 'annual'
             ELSE 'other' END AS account_billing_interval,
        CAST(m.end_date - k.as_of AS INTEGER) AS account_days_to_period_end,
        {_days_to_next("year")} AS account_days_to_anniversary,
        {_days_to_next("month")} AS account_days_to_monthiversary,
        a.industry AS account_industry, a.region AS account_region
        FROM keys k JOIN accounts a USING (account_id) LEFT JOIN now n USING (sid)
        LEFT JOIN main m USING (sid) LEFT JOIN ago g USING (sid)"""
    )
    return account_features()
