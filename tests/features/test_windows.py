"""SQL helpers: the UTC day of a timestamp, and distinct counts over windows via islands."""

from __future__ import annotations

import datetime as dt

import duckdb
import pandas as pd

from features.windows import cumulate, island_deltas, utc_day


def test_utc_day_floors_on_both_sides_of_1970_and_ignores_the_session_time_zone() -> None:
    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")
    stamps = ["1969-12-31 23:59:59.999999+00", "1970-01-01 00:00:00+00", "2024-03-03 23:30:00-02"]
    got = [
        con.execute(f"SELECT {utc_day('t')} FROM (SELECT TIMESTAMPTZ '{s}' AS t)").fetchone()[0]
        for s in stamps
    ]
    assert got == [dt.date(1969, 12, 31), dt.date(1970, 1, 1), dt.date(2024, 3, 4)]


def test_island_deltas_count_distinct_users_in_a_trailing_window() -> None:
    con = duckdb.connect()
    d = dt.date
    # u1 on Jan 1 and Jan 3 (one island for w=7), u2 on Jan 2 and Jan 20 (two islands).
    con.register(
        "ud",
        pd.DataFrame(
            {
                "a": [1, 1, 1, 1],
                "u": ["u1", "u1", "u2", "u2"],
                "day": [d(2024, 1, 1), d(2024, 1, 3), d(2024, 1, 2), d(2024, 1, 20)],
            }
        ),
    )
    con.execute(f"CREATE TABLE deltas AS {island_deltas('ud', 'u', [7])}")
    cumulate(con, "deltas", "cum", {"n7": "sum(n7)"})
    cum = con.execute("SELECT day, n7 FROM cum ORDER BY day").fetchall()

    def users(as_of: dt.date) -> int:  # running value at the last day before as_of
        return next((n for day, n in reversed(cum) if day < as_of), 0)

    assert [users(d(2024, 1, k)) for k in (1, 2, 3, 4, 9, 10, 11, 20, 21, 27, 28)] == [
        0,
        1,
        2,
        2,
        2,
        1,
        0,
        0,
        1,
        1,
        0,
    ]
