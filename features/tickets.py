"""Support-ticket features: volume, severity, backlog, resolution speed and satisfaction.

A ticket counts from `opened_at`; its closing (and the CSAT given at closing) only counts once
`closed_at` is before `as_of`, so a ticket closed later is still open at that snapshot.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from features.family import Connection, Family, feature
from features.manifest import Feature
from features.phrases import count, days
from features.windows import cumulate, look_up

WINDOWS = (30, 90)
_f = partial(feature, "tickets")


def ticket_features(_: Any = None) -> list[Feature]:
    """The ticket features, in column order."""
    out: list[Feature] = []
    for w in WINDOWS:
        out += [
            _f(f"tickets_opened_{w}d", "int", f"{w}d", "tickets", f"Tickets opened, last {w} days"),
            _f(
                f"tickets_high_urgent_{w}d",
                "int",
                f"{w}d",
                "tickets",
                f"High or urgent tickets opened, last {w} days",
            ),
        ]
    return out + [
        _f("tickets_open_now", "int", None, "tickets", "Tickets still open"),
        _f("tickets_oldest_open_age_days", "int", None, "days", "Age of the oldest open ticket"),
        _f(
            "tickets_resolution_days_mean_90d",
            "float",
            "90d",
            "days",
            "Mean days to resolve tickets closed in the last 90 days",
        ),
        _f("tickets_csat_mean_90d", "float", "90d", "score 1-5", "Mean CSAT, last 90 days"),
        _f("tickets_csat_last", "float", None, "score 1-5", "Latest CSAT score given"),
        _f("tickets_days_since_last", "int", None, "days", "Days since the last ticket opened"),
        _f("tickets_never", "bool", None, "flag", "No ticket ever opened"),
    ]


def build_tickets(con: Connection, _: Any = None) -> None:
    """Create table `f_tickets` (sid, ticket features) from table `tickets`."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE tickets_daily AS
        WITH t AS (SELECT * FROM tickets JOIN acc USING (account_id)),
        o AS (SELECT a, CAST(opened_at AS DATE) AS day, count(*) AS opened,
                   count(*) FILTER (WHERE priority IN ('high', 'urgent')) AS hi
                   FROM t GROUP BY ALL),
        c AS (SELECT a, CAST(closed_at AS DATE) AS day, count(*) AS closed,
              sum((epoch_us(closed_at) - epoch_us(opened_at)) / 86400e6) AS res_days,
              coalesce(sum(csat), 0) AS csat_sum, count(csat) AS csat_n,
              arg_max(csat, (closed_at, ticket_id)) FILTER (WHERE csat IS NOT NULL) AS csat_day
              FROM t WHERE closed_at IS NOT NULL GROUP BY ALL)
        SELECT a, day, coalesce(opened, 0) AS opened, coalesce(hi, 0) AS hi,
               coalesce(closed, 0) AS closed, coalesce(res_days, 0) AS res_days,
               coalesce(csat_sum, 0) AS csat_sum, coalesce(csat_n, 0) AS csat_n, csat_day
        FROM o FULL JOIN c USING (a, day)"""
    )
    sums = ("opened", "hi", "closed", "res_days", "csat_sum", "csat_n")
    exprs = {c: f"sum({c})" for c in sums}
    exprs["last_opened"] = "max(CASE WHEN opened > 0 THEN day END)"
    exprs["csat_last"] = "last_value(csat_day IGNORE NULLS)"
    cumulate(con, "tickets_daily", "tickets_cum", exprs)
    offsets = {0: list(exprs), **{w: list(sums) for w in WINDOWS}}
    look_up(con, "tickets_cum", "tickets_at", offsets, zero=sums)
    win = ", ".join(
        f"CAST(opened_at0 - opened_at{w} AS INTEGER) AS tickets_opened_{w}d, "
        f"CAST(hi_at0 - hi_at{w} AS INTEGER) AS tickets_high_urgent_{w}d"
        for w in WINDOWS
    )
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE f_tickets AS
        WITH open_age AS (SELECT k.sid,
            max(date_diff('day', CAST(t.opened_at AS DATE), k.as_of)) AS age
            FROM keys k JOIN tickets t ON k.account_id = t.account_id
            AND CAST(t.opened_at AS DATE) < k.as_of
            AND (t.closed_at IS NULL OR CAST(t.closed_at AS DATE) >= k.as_of) GROUP BY k.sid)
        SELECT a.sid, {win},
        CAST(opened_at0 - closed_at0 AS INTEGER) AS tickets_open_now,
        CAST(o.age AS INTEGER) AS tickets_oldest_open_age_days,
        (res_days_at0 - res_days_at90) / nullif(closed_at0 - closed_at90, 0)
            AS tickets_resolution_days_mean_90d,
        (csat_sum_at0 - csat_sum_at90) / nullif(csat_n_at0 - csat_n_at90, 0)
            AS tickets_csat_mean_90d,
        CAST(csat_last_at0 AS DOUBLE) AS tickets_csat_last,
        CAST(date_diff('day', last_opened_at0, k.as_of) AS INTEGER) AS tickets_days_since_last,
        last_opened_at0 IS NULL AS tickets_never
        FROM tickets_at a JOIN keys k USING (sid) LEFT JOIN open_age o USING (sid)"""
    )


TICKETS = Family(
    name="tickets",
    source="tickets",
    table="f_tickets",
    features=ticket_features,
    build=build_tickets,
    first_row="opened_at",
    # Without `closed_at` every ticket would look open forever.
    needs={
        ("tickets", "closed_at"): (
            "tickets_open_now",
            "tickets_oldest_open_age_days",
            "tickets_resolution_days_mean_90d",
            "tickets_csat_mean_90d",
            "tickets_csat_last",
        ),
        ("tickets", "priority"): ("tickets_high_urgent_30d", "tickets_high_urgent_90d"),
        ("tickets", "csat"): ("tickets_csat_mean_90d", "tickets_csat_last"),
    },
    phrases={
        "tickets_opened_30d": lambda v, r: f"{count(v, 'ticket')} in the last 30 days",
        "tickets_opened_90d": lambda v, r: f"{count(v, 'ticket')} in the last 90 days",
        "tickets_high_urgent_30d": lambda v, r: f"{count(v, 'urgent ticket')} in the last 30 days",
        "tickets_high_urgent_90d": lambda v, r: f"{count(v, 'urgent ticket')} in the last 90 days",
        "tickets_open_now": lambda v, r: f"{count(v, 'ticket')} still open",
        "tickets_oldest_open_age_days": lambda v, r: f"Oldest open ticket is {days(v)} old",
        "tickets_resolution_days_mean_90d": lambda v, r: f"Tickets took {v:.1f} days to resolve",
        "tickets_csat_mean_90d": lambda v, r: f"Support satisfaction {v:.1f} of 5 (90 days)",
        "tickets_csat_last": lambda v, r: f"Last support satisfaction score {v:.0f} of 5",
        "tickets_days_since_last": lambda v, r: f"Last ticket opened {days(v)} ago",
        "tickets_never": lambda v, r: "Never opened a ticket" if v else "Has opened tickets before",
    },
    missing={
        "tickets_days_since_last": "Never opened a ticket",
        "tickets_csat_mean_90d": "No support satisfaction score in 90 days",
        "tickets_csat_last": "Never gave a support satisfaction score",
        "tickets_resolution_days_mean_90d": "No ticket resolved in 90 days",
        "tickets_oldest_open_age_days": "No open ticket",
    },
)
