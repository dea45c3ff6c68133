"""Manager-rating features: the rating in force at `as_of`, its age, change and history.

A rating counts once `rated_at < as_of`. Several ratings of one account on one day (the
contract has dates, not times) are read as one: the most cautious (lowest) risk rating and
communication level of that day.
"""

from __future__ import annotations

import duckdb

from features.manifest import Feature


def _f(name: str, dtype: str, unit: str, text: str) -> Feature:
    return Feature(name, dtype, "rating", None, unit, text)  # type: ignore[arg-type]


def rating_features() -> list[Feature]:
    """The rating features, in column order."""
    return [
        _f("rating_current", "int", "1-4", "Manager's risk rating in force (1 = highest risk)"),
        _f("rating_age_days", "int", "days", "Days since the manager last rated the account"),
        _f("rating_change", "int", "steps", "Change against the previous rating (+ = safer)"),
        _f("rating_communication_level", "int", "1-3", "Communication with the client (3 = good)"),
        _f("rating_count", "int", "ratings", "How many ratings the manager has given"),
    ]


def build_ratings(con: duckdb.DuckDBPyConnection) -> list[Feature]:
    """Create table `f_ratings` (sid, rating features) from table `manager_ratings`."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ratings_cum AS
        WITH d AS (SELECT account_id, rated_at AS day, min(risk_rating) AS rating,
                   min(communication_level) AS comm, count(*) AS n
                   FROM manager_ratings GROUP BY ALL)
        SELECT account_id, day, rating, comm,
               rating - lag(rating) OVER w AS change,
               sum(n) OVER (w ROWS UNBOUNDED PRECEDING) AS n
        FROM d WINDOW w AS (PARTITION BY account_id ORDER BY day)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE f_ratings AS SELECT k.sid,
        CAST(r.rating AS INTEGER) AS rating_current,
        CAST(k.as_of - r.day AS INTEGER) AS rating_age_days,
        CAST(r.change AS INTEGER) AS rating_change,
        CAST(r.comm AS INTEGER) AS rating_communication_level,
        CAST(coalesce(r.n, 0) AS INTEGER) AS rating_count
        FROM keys k ASOF LEFT JOIN ratings_cum r
        ON k.account_id = r.account_id AND k.as_of > r.day"""
    )
    return rating_features()
