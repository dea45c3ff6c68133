"""Usage features: volume, breadth, use of each event type, trend, regularity and recency.

Events count as activity when their quantity is above 0; `events` sums quantity (a source may
send daily counts). Days are UTC days, and a window `Nd` is `[as_of - N days, as_of)`.

Each event type the stage is given (`features.event_types`, or every type of the export up to
`features.max_event_types`: see `features/event_types.py`) gets its own counts, so the model finds
which uses matter: nothing here is chosen by looking at churn.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from functools import partial

from features.event_types import choose_event_types, type_slugs
from features.family import Connection, Family, feature
from features.manifest import Feature
from features.params import FeaturesParams
from features.phrases import Phrase, Row, count, days, events, num, usual, weekly
from features.windows import cumulate, island_deltas, look_up, utc_day

WINDOWS = (7, 28, 90)
WEEKS = 12  # regularity looks at the last 12 whole weeks before as_of

log = logging.getLogger(__name__)
_f = partial(feature, "usage")


def type_features(event_types: Sequence[str]) -> list[Feature]:
    """The per-event-type counts, one per type and window."""
    return [
        _f(f"usage_type_{slug}_{w}d", "float", f"{w}d", "events", f"'{t}' events, last {w} days", t)
        for t, slug in zip(event_types, type_slugs(event_types), strict=True)
        for w in WINDOWS
    ]


def usage_features(event_types: Sequence[str] | None = None) -> list[Feature]:
    """The usage features, in column order (None: no event type counted on its own)."""
    out: list[Feature] = []
    for w in WINDOWS:
        out += [
            _f(f"usage_events_{w}d", "float", f"{w}d", "events", f"Product events, last {w} days"),
            _f(f"usage_active_days_{w}d", "int", f"{w}d", "days", f"Days with use, last {w} days"),
            _f(f"usage_active_users_{w}d", "int", f"{w}d", "users", f"Users active, last {w} days"),
            _f(f"usage_event_types_{w}d", "int", f"{w}d", "types", f"Features used, last {w} days"),
        ]
    out += type_features(event_types or ())
    return out + [
        _f(
            "usage_events_per_user_28d",
            "float",
            "28d",
            "events per user",
            "Events per active user, last 28 days",
        ),
        _f(
            "usage_trend_28d",
            "float",
            "28d",
            "ratio",
            "Usage last 28 days against the 28 days before (1 = flat, below 1 = falling)",
        ),
        _f(
            "usage_active_weeks_share_12w",
            "float",
            "12w",
            "share",
            "Share of the last 12 weeks with any product use",
        ),
        _f(
            "usage_weekly_events_cv_12w",
            "float",
            "12w",
            "ratio",
            "How uneven weekly usage is over 12 weeks (0 = steady)",
        ),
        _f("usage_days_since_last_event", "int", None, "days", "Days since anyone last used it"),
        _f("usage_never", "bool", None, "flag", "The product was never used before this date"),
    ]


def prepare_usage(con: Connection, params: FeaturesParams) -> list[str]:
    """Choose the event types; aggregate `usage_events` to account-day-type and account-user-day.

    Accounts and event types become integer codes (tables `acc`, `etypes`) and users a 64-bit
    hash, so the big sorts that follow compare integers. Returns the event types counted.
    """
    event_types = choose_event_types(con, params.event_types, params.max_event_types)
    log.info("usage: counted per type: %s", event_types)
    day = utc_day("occurred_at")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE etypes AS SELECT event_type, "
        "CAST(row_number() OVER (ORDER BY event_type) AS INTEGER) AS e "
        "FROM (SELECT DISTINCT event_type FROM usage_events)"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE usage_adt AS SELECT a, {day} AS day, e, "
        "sum(quantity) AS events FROM usage_events JOIN acc USING (account_id) "
        "JOIN etypes USING (event_type) WHERE quantity > 0 GROUP BY ALL"
    )
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE usage_aud AS SELECT DISTINCT a, hash(user_id) AS u, "
        f"{day} AS day FROM usage_events JOIN acc USING (account_id) "
        "WHERE quantity > 0 AND user_id IS NOT NULL"
    )
    return event_types


def _daily_sql(event_types: Sequence[str], codes: Mapping[str, int]) -> str:
    """SQL of one row per (account, day): sums, per-type sums (`x0`, `x1`...), island deltas.

    `codes` maps the export's event types to their codes in `etypes`; a type it lacks counts 0.
    """
    per_type = "".join(
        f", coalesce(sum(events) FILTER (WHERE e = {codes.get(t, -1)}), 0) AS x{i}"
        for i, t in enumerate(event_types)
    )
    users = ", ".join(f"n{w} AS u{w}" for w in WINDOWS)
    types = ", ".join(f"n{w} AS t{w}" for w in WINDOWS)
    counted = ["events", "active", *_type_columns(event_types)]
    cols = counted + [f"{p}{w}" for p in "ut" for w in WINDOWS]
    sums = ", ".join(f"coalesce(sum({c}), 0) AS {c}" for c in cols)

    def part(name: str, has: Sequence[str]) -> str:
        picks = ", ".join(c if c in has else f"NULL AS {c}" for c in cols)
        return f"SELECT a, day, {picks} FROM {name}"

    parts = " UNION ALL ".join(
        part(name, has)
        for name, has in (
            ("ev", counted),
            ("u", [f"u{w}" for w in WINDOWS]),
            ("t", [f"t{w}" for w in WINDOWS]),
        )
    )
    return f"""
        WITH ev AS (SELECT a, day, sum(events) AS events, 1 AS active{per_type}
                    FROM usage_adt GROUP BY ALL),
        u AS (SELECT a, day, {users} FROM ({island_deltas("usage_aud", "u", WINDOWS)})),
        t AS (SELECT a, day, {types} FROM ({island_deltas("usage_adt", "e", WINDOWS)}))
        SELECT a, day, {sums}
        FROM ({parts})
        GROUP BY a, day"""


def _type_columns(event_types: Sequence[str]) -> list[str]:
    return [f"x{i}" for i in range(len(event_types))]


def build_usage(con: Connection, event_types: Sequence[str]) -> None:
    """Create table `f_usage` (sid, usage features) from the prepared usage tables."""
    counted = ("events", "active", *_type_columns(event_types))
    exprs = {c: f"sum({c})" for c in counted}
    exprs |= {f"{p}{w}": f"sum({p}{w})" for p in "ut" for w in WINDOWS}
    exprs["last_day"] = "max(CASE WHEN active > 0 THEN day END)"
    # The daily rows feed the running totals directly: never stored as a table of their own.
    # The codes as literals: a subquery per type would be a job of its own on Spark.
    codes = {str(t): int(e) for t, e in con.execute("SELECT event_type, e FROM etypes").fetchall()}
    cumulate(con, f"({_daily_sql(event_types, codes)})", "usage_cum", exprs)
    con.execute("DROP TABLE usage_adt; DROP TABLE usage_aud")
    offsets: dict[int, list[str]] = {7 * i: ["events"] for i in range(1, WEEKS + 1)}
    offsets[0] = list(exprs)
    for w in WINDOWS:
        offsets.setdefault(w, []).extend(c for c in counted if c not in offsets[w])
    offsets[56] = ["events"]
    look_up(con, "usage_cum", "usage_at", offsets, zero=[c for c in exprs if c != "last_day"])
    con.execute("DROP TABLE usage_cum")
    win = []
    for w in WINDOWS:
        win += [
            f"events_at0 - events_at{w} AS usage_events_{w}d",
            f"CAST(active_at0 - active_at{w} AS INTEGER) AS usage_active_days_{w}d",
            f"CAST(u{w}_at0 AS INTEGER) AS usage_active_users_{w}d",
            f"CAST(t{w}_at0 AS INTEGER) AS usage_event_types_{w}d",
        ]
    for x, slug in zip(_type_columns(event_types), type_slugs(event_types), strict=True):
        win += [f"{x}_at0 - {x}_at{w} AS usage_type_{slug}_{w}d" for w in WINDOWS]
    weeks = [f"(events_at{7 * i} - events_at{7 * i + 7})" for i in range(WEEKS)]
    mean = f"(({' + '.join(weeks)}) / {WEEKS})"
    var = " + ".join(f"power({wk} - {mean}, 2)" for wk in weeks)
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE f_usage AS SELECT sid, {", ".join(win)},
        (events_at0 - events_at28) / nullif(u28_at0, 0) AS usage_events_per_user_28d,
        (events_at0 - events_at28) / nullif(events_at28 - events_at56, 0) AS usage_trend_28d,
        ({" + ".join(f"CAST({wk} > 0 AS INTEGER)" for wk in weeks)}) / {WEEKS}
            AS usage_active_weeks_share_12w,
        sqrt(({var}) / {WEEKS}) / nullif({mean}, 0) AS usage_weekly_events_cv_12w,
        CAST(date_diff('day', last_day_at0, k.as_of) AS INTEGER) AS usage_days_since_last_event,
        last_day_at0 IS NULL AS usage_never
        FROM usage_at JOIN keys k USING (sid)"""
    )


def _since_use(v: float, row: Row) -> str:
    active = num(row.get("usage_active_days_90d"))
    text = f"No product use for {days(v)}"
    if active and active >= 2:
        every = 90 / active
        text += "; usually active every day" if every < 1.5 else f"; usually every {every:.0f} days"
    return text


def _active_days(window: int) -> Phrase:
    def say(v: float, row: Row) -> str:
        typical = weekly(row, "usage_active_days_90d", window)
        return f"Used on {v:.0f} of the last {window} days" + usual(v, typical, "{:.0f}")

    return say


def _users(window: int) -> Phrase:
    def say(v: float, row: Row) -> str:
        text = f"{count(v, 'user')} active in the last {window} days"
        wider = num(row.get("usage_active_users_90d"))
        if window < 90 and wider is not None and wider > v:
            text += f" ({wider:.0f} in the last 90)"
        return text

    return say


def _trend(v: float, row: Row) -> str:
    change = (v - 1) * 100
    if abs(change) < 5:
        return "Usage flat against the previous 28 days"
    return f"Usage {'down' if change < 0 else 'up'} {abs(change):.0f}% against the previous 28 days"


def _kinds(window: int) -> Phrase:
    within = "in the last 7 days" if window == 7 else f"in {window} days"
    return lambda v, r: f"{count(v, 'product feature')} used {within}"


USAGE = Family(
    name="usage",
    source="usage_events",
    table="f_usage",
    features=usage_features,
    build=build_usage,
    prepare=prepare_usage,
    first_row="occurred_at",
    # Without `user_id` no user is ever active.
    needs={
        ("usage_events", "user_id"): (
            "usage_active_users_7d",
            "usage_active_users_28d",
            "usage_active_users_90d",
            "usage_events_per_user_28d",
        ),
    },
    phrases={
        "usage_days_since_last_event": _since_use,
        **{f"usage_active_days_{w}d": _active_days(w) for w in WINDOWS[:-1]},
        "usage_active_days_90d": lambda v, r: f"Used on {v:.0f} of the last 90 days",
        **{f"usage_events_{w}d": events(w, "product event", "usage_events_90d") for w in WINDOWS},
        **{f"usage_active_users_{w}d": _users(w) for w in WINDOWS},
        **{f"usage_event_types_{w}d": _kinds(w) for w in WINDOWS},
        "usage_events_per_user_28d": lambda v, r: f"{v:,.0f} events per active user in 28 days",
        "usage_trend_28d": _trend,
        "usage_active_weeks_share_12w": lambda v, r: f"Active in {v * 12:.0f} of the last 12 weeks",
        "usage_weekly_events_cv_12w": lambda v, r: (
            "Steady weekly usage" if v < 0.5 else f"Uneven weekly usage (variation {v:.1f})"
        ),
        "usage_never": lambda v, r: "Has never used the product" if v else "Has used the product",
    },
    missing={
        "usage_days_since_last_event": "Has never used the product",
        "usage_trend_28d": "No usage to compare over the last 56 days",
    },
    baseline=("usage_active_days_90d", "usage_events_90d", "usage_active_users_90d"),
)
