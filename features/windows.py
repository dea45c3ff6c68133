"""Point-in-time window sums in DuckDB: cumulative per account-day, looked up by ASOF joins.

Every family aggregates its rows to one row per (account, day) first. A running total per
account then gives any window sum as a difference of two look-ups: the sum over
`[as_of - w, as_of)` is `C(as_of) - C(as_of - w)`, where `C(t)` is the running total over days
strictly before `t` (an ASOF join on `day < t`). No row is ever joined to every snapshot.

Distinct counts over a window (active users, event types) are not sums; they are turned into
sums by "islands": an entity active on day `d` counts for every `as_of` in `[d + 1, d + w]`,
so its active days merge into islands, and each island adds +1 at its first day and -1 after
its last (both shifted one day earlier, so the same `day < as_of` look-up reads them).

The snapshot keys live in table `keys(sid, a, as_of)`, one row per snapshot row; `a` is an
integer code of the account (table `acc`), cheaper to sort and hash than the string id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from features.family import Connection


def utc_day(column: str) -> str:
    """SQL for the UTC calendar day of a TIMESTAMPTZ column (flooring, also before 1970)."""
    us, day = f"epoch_us({column})", 86_400_000_000
    return (
        f"(DATE '1970-01-01' + CAST(({us} - (({us} % {day}) + {day}) % {day}) // {day} AS INTEGER))"
    )


def cumulate(con: Connection, daily: str, name: str, exprs: Mapping[str, str]) -> None:
    """Create table `name`: per (a, day) running values `exprs` (window aggregates)."""
    cols = ", ".join(f"{expr} OVER w AS {col}" for col, expr in exprs.items())
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT a, day, {cols} FROM {daily} "
        "WINDOW w AS (PARTITION BY a ORDER BY day ROWS UNBOUNDED PRECEDING)"
    )


def look_up(
    con: Connection,
    cum: str,
    name: str,
    offsets: Mapping[int, Sequence[str]],
    zero: Sequence[str] = (),
) -> None:
    """Create table `name` (sid, `<col>_at<k>`): running values at `as_of - k`, days before it.

    One ASOF join of every (snapshot, offset) probe, then a pivot back to one row per
    snapshot: cheaper than one ASOF join per offset, each of which sorts both sides again.
    Columns listed in `zero` read 0 when the account has no day before the look-up date.
    """
    cols = sorted({c for cs in offsets.values() for c in cs})
    ks = ", ".join(f"({int(k)})" for k in sorted(offsets))
    picks = ", ".join(f"c.{c}" for c in cols)
    pivot = []
    for k, wanted in sorted(offsets.items()):
        for col in wanted:
            value = f"max({col}) FILTER (WHERE k = {int(k)})"
            pivot.append(f"{f'coalesce({value}, 0)' if col in zero else value} AS {col}_at{k}")
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE {name} AS
        WITH probes AS (SELECT keys.sid, keys.a, o.k, keys.as_of - o.k AS t
                        FROM keys, (VALUES {ks}) o(k)),
        hits AS (SELECT p.sid, p.k, {picks} FROM probes p ASOF LEFT JOIN {cum} c
                 ON p.a = c.a AND p.t > c.day)
        SELECT sid, {", ".join(pivot)} FROM hits GROUP BY sid"""
    )


def island_deltas(entity_days: str, key: str, windows: Sequence[int]) -> str:
    """SQL of (a, day, n<w>...) deltas whose running sum counts distinct `key` values.

    `entity_days` is a table of distinct (a, `key`, day) rows.
    """
    lag = (
        f"lag(day) OVER (PARTITION BY a, {key} ORDER BY day) AS prev, "
        f"lead(day) OVER (PARTITION BY a, {key} ORDER BY day) AS next"
    )
    # Named after the key: SQLGlot lifts nested CTEs to the top, where names must not clash.
    marked, deltas = f"marked_{key}", f"deltas_{key}"
    # A new island starts where the gap to the previous active day exceeds w; it ends where
    # the gap to the next one does: +1 at its first day, -1 at its last day + w. One pass over
    # the marked days, each paired with every (w, +1/-1): Spark recomputes a CTE per reference.
    steps = ", ".join(f"({w}, {sign})" for w in windows for sign in (1, -1))
    ends = (
        f"SELECT a, CASE WHEN delta = 1 THEN day ELSE day + w END AS day, w, delta "
        f"FROM {marked}, (VALUES {steps}) s(w, delta) "
        f"WHERE (delta = 1 AND (prev IS NULL OR date_diff('day', prev, day) > w)) "
        f"OR (delta = -1 AND (next IS NULL OR date_diff('day', day, next) > w))"
    )
    pivot = ", ".join(f"sum(delta) FILTER (WHERE w = {w}) AS n{w}" for w in windows)
    return (
        f"WITH {marked} AS (SELECT a, day, {lag} FROM {entity_days}), "
        f"{deltas} AS ({ends}) "
        f"SELECT a, day, {pivot} FROM {deltas} GROUP BY a, day"
    )
