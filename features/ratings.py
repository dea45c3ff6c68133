"""Manager-rating features: the rating in force at `as_of`, its age, change and history.

A rating counts once `rated_at < as_of`. Several ratings of one account on one day (the
contract has dates, not times) are read as one: the most cautious (lowest) risk rating and
communication level of that day.
"""

from __future__ import annotations

from functools import partial
from typing import Any

from features.family import Connection, Family, feature
from features.manifest import Feature
from features.phrases import Row, count, days, num

_f = partial(feature, "rating")
_COMMUNICATION = {1: "poor", 2: "fair", 3: "good"}


def rating_features(_: Any = None) -> list[Feature]:
    """The rating features, in column order."""
    return [
        _f(
            "rating_current",
            "int",
            None,
            "1-4",
            "Manager's risk rating in force (1 = highest risk)",
        ),
        _f("rating_age_days", "int", None, "days", "Days since the manager last rated the account"),
        _f("rating_change", "int", None, "steps", "Change against the previous rating (+ = safer)"),
        _f(
            "rating_communication_level",
            "int",
            None,
            "1-3",
            "Communication with the client (3 = good)",
        ),
        _f("rating_count", "int", None, "ratings", "How many ratings the manager has given"),
    ]


def build_ratings(con: Connection, _: Any = None) -> None:
    """Create table `f_ratings` (sid, rating features) from table `manager_ratings`."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE ratings_cum AS
        WITH d AS (SELECT account_id, rated_at AS day, min(risk_rating) AS rating,
                   min(communication_level) AS comm, count(*) AS n
                   FROM manager_ratings GROUP BY ALL)
        SELECT account_id, day, rating, comm,
               rating - lag(rating) OVER w AS change,
               sum(n) OVER (PARTITION BY account_id ORDER BY day ROWS UNBOUNDED PRECEDING) AS n
        FROM d WINDOW w AS (PARTITION BY account_id ORDER BY day)"""
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE f_ratings AS SELECT k.sid,
        CAST(r.rating AS INTEGER) AS rating_current,
        CAST(date_diff('day', r.day, k.as_of) AS INTEGER) AS rating_age_days,
        CAST(r.change AS INTEGER) AS rating_change,
        CAST(r.comm AS INTEGER) AS rating_communication_level,
        CAST(coalesce(r.n, 0) AS INTEGER) AS rating_count
        FROM keys k ASOF LEFT JOIN ratings_cum r
        ON k.account_id = r.account_id AND k.as_of > r.day"""
    )


def _rating(v: float, row: Row) -> str:
    age = num(row.get("rating_age_days"))
    return f"Manager rating {v:.0f}" + (f" is {days(age)} old" if age is not None else "")


def _rating_change(v: float, row: Row) -> str:
    if v == 0:
        return "Manager rating unchanged at the last review"
    direction = "safer" if v > 0 else "riskier"
    return f"Manager rating moved {count(abs(v), 'step')} {direction} at the last review"


RATINGS = Family(
    name="rating",
    source="manager_ratings",
    table="f_ratings",
    features=rating_features,
    build=build_ratings,
    first_row="rated_at",
    needs={("manager_ratings", "communication_level"): ("rating_communication_level",)},
    phrases={
        "rating_current": _rating,
        "rating_age_days": lambda v, r: f"Manager rating is {days(v)} old",
        "rating_change": _rating_change,
        "rating_communication_level": lambda v, r: (
            f"Communication rated {_COMMUNICATION.get(round(v), f'{v:.0f}')} by the manager"
        ),
        "rating_count": lambda v, r: f"Rated {count(v, 'time')} by the manager",
    },
    missing={
        "rating_current": "Never rated by the manager",
        "rating_age_days": "Never rated by the manager",
        "rating_change": "Only one rating so far",
        "rating_communication_level": "Communication never rated",
    },
    baseline=("rating_age_days",),
)
