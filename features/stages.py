"""The `features` DVC stage: validated Parquet in, snapshots.parquet and manifest.json out."""

from __future__ import annotations

import datetime as dt
import functools
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from data.console import progress
from data.contract import OPTIONAL_SOURCES, TABLES
from data.io import atomic_dir, read_json
from data.params import BaseParams
from features.accounts import build_accounts
from features.contacts import build_contacts
from features.lives import build_lives, build_snapshots, snapshot_dates
from features.manifest import EXTRA_COLUMNS, ID_COLUMNS, LABEL, Feature, Manifest, build_manifest
from features.params import FeaturesParams
from features.ratings import build_ratings
from features.tickets import build_tickets
from features.usage import build_usage, choose_event_types, prepare_usage

log = logging.getLogger(__name__)

# Optional source -> (family table, builder). Usage is handled apart (it needs event types).
FAMILIES: dict[str, tuple[str, Callable[[duckdb.DuckDBPyConnection], list[Feature]]]] = {
    "tickets": ("f_tickets", build_tickets),
    "contacts": ("f_contacts", build_contacts),
    "manager_ratings": ("f_ratings", build_ratings),
}


def _quote(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def _connect(validated_dir: Path, params: FeaturesParams, spill: Path) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {"memory_limit": params.memory_limit, "temp_directory": str(spill)}
    if params.threads:
        config["threads"] = params.threads
    con = duckdb.connect(config=config)
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET preserve_insertion_order = false")
    for name in TABLES:
        path = validated_dir / f"{name}.parquet"
        if path.exists():
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet({_quote(path)})")
    return con


_FIRST_ROW = {
    "usage_events": "occurred_at",
    "tickets": "opened_at",
    "contacts": "occurred_at",
    "manager_ratings": "rated_at",
}


def _history_start(con: duckdb.DuckDBPyConnection, present: list[str]) -> dt.date | None:
    """The first day every present source has rows for.

    No account is active before the first paid day; and before a source's first row the
    export simply holds no history of it (a CRM connected later), so snapshots there would
    read "never used" or "never contacted" where nothing is known.
    """
    firsts = [con.execute("SELECT min(start_date) FROM subscriptions").fetchall()[0][0]]
    for table, column in _FIRST_ROW.items():
        if table in present:
            query = f"SELECT min(CAST({column} AS DATE)) FROM {table}"
            firsts.append(con.execute(query).fetchall()[0][0])
    known = [pd.Timestamp(f).date() for f in firsts if f is not None]
    return max(known) if known else None


def _make_keys(
    con: duckdb.DuckDBPyConnection,
    base: BaseParams,
    params: FeaturesParams,
    export_date: dt.date,
    present: list[str],
) -> list[dt.date]:
    subs = con.execute("SELECT account_id, start_date, end_date FROM subscriptions").df()
    lives = build_lives(subs, base.grace_gap_days)
    sources = present if params.history_start == "all_sources" else []
    first = _history_start(con, sources) or export_date
    dates = snapshot_dates(first, export_date, params.frequency)
    snaps = build_snapshots(lives, dates, export_date, base.horizon_days, base.grace_gap_days)
    con.register("snaps_frame", snaps)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE acc AS SELECT account_id, "
        "CAST(row_number() OVER (ORDER BY account_id) AS INTEGER) AS a FROM accounts"
    )
    con.execute(
        """CREATE OR REPLACE TEMP TABLE keys AS SELECT
        CAST(row_number() OVER (ORDER BY as_of, account_id) AS INTEGER) AS sid, a,
        account_id, CAST(as_of AS DATE) AS as_of, life, CAST(life_start AS DATE) AS life_start,
        CAST(churn_date AS DATE) AS churn_date, CAST(churned AS TINYINT) AS churned
        FROM snaps_frame JOIN acc USING (account_id)"""
    )
    con.unregister("snaps_frame")
    return [d.date() for d in dates]


def _timed(bar: Any, label: str, run: Callable[[], list[Feature]]) -> list[Feature]:
    started = time.perf_counter()
    feats = run()
    log.info("%s: %d features in %.1f s", label, len(feats), time.perf_counter() - started)
    bar.update(1)
    return feats


def _build_families(
    con: duckdb.DuckDBPyConnection, present: list[str], params: FeaturesParams
) -> tuple[list[tuple[str, list[Feature]]], list[str]]:
    steps = 1 + ("usage_events" in present) + sum(s in present for s in FAMILIES)
    built: list[tuple[str, list[Feature]]] = []
    event_types: list[str] = []
    with progress(total=steps, desc="features", unit="family") as bar:
        if "usage_events" in present:
            started = time.perf_counter()
            event_types = choose_event_types(con, params.event_types, params.max_event_types)
            prepare_usage(con)
            log.info(
                "usage: aggregated to days in %.1f s; counted per type: %s",
                time.perf_counter() - started,
                event_types,
            )
            built.append(("f_usage", _timed(bar, "usage", lambda: build_usage(con, event_types))))
        for source, (table, build) in FAMILIES.items():
            if source in present:
                built.append((table, _timed(bar, source, functools.partial(build, con))))
        built.insert(
            0, ("f_accounts", _timed(bar, "account", functools.partial(build_accounts, con)))
        )
    return built, event_types


def _select_sql(built: list[tuple[str, list[Feature]]]) -> str:
    cols = [
        *(f"k.{c}" for c in ID_COLUMNS),
        f"k.{LABEL}",
        "k.churn_date",
        *(f"f_accounts.{c}" for c in EXTRA_COLUMNS[1:]),
    ]
    cols += [f"{table}.{f.name}" for table, feats in built for f in feats]
    joins = " ".join(f"LEFT JOIN {table} USING (sid)" for table, _ in built)
    return f"SELECT {', '.join(cols)} FROM keys k {joins} ORDER BY k.as_of, k.account_id"


def _write(
    con: duckdb.DuckDBPyConnection, built: list[tuple[str, list[Feature]]], out: Path
) -> tuple[int, int]:
    started = time.perf_counter()
    con.execute(f"COPY ({_select_sql(built)}) TO {_quote(out)} (FORMAT parquet)")
    counts = con.execute("SELECT count(*), count(churned) FROM keys").fetchone()
    assert counts is not None
    log.info("wrote %d rows (%d labeled) in %.1f s", *counts, time.perf_counter() - started)
    return int(counts[0]), int(counts[1])


# Optional columns whose absence from the export (not emptiness) makes features lie: without
# `closed_at` every ticket would look open forever, without `user_id` no user ever active.
NEEDS: dict[tuple[str, str], tuple[str, ...]] = {
    ("tickets", "closed_at"): (
        "tickets_open_now",
        "tickets_oldest_open_age_days",
        "tickets_resolution_days_mean_90d",
        "tickets_csat_mean_90d",
        "tickets_csat_last",
    ),
    ("tickets", "priority"): ("tickets_high_urgent_30d", "tickets_high_urgent_90d"),
    ("tickets", "csat"): ("tickets_csat_mean_90d", "tickets_csat_last"),
    ("usage_events", "user_id"): (
        "usage_active_users_7d",
        "usage_active_users_28d",
        "usage_active_users_90d",
        "usage_events_per_user_28d",
    ),
    ("contacts", "direction"): (
        "contacts_days_since_last_inbound",
        "contacts_inbound_30d",
        "contacts_inbound_share_90d",
    ),
    ("manager_ratings", "communication_level"): ("rating_communication_level",),
    ("subscriptions", "plan"): ("account_plan",),
    ("accounts", "segment"): ("account_segment",),
    ("accounts", "industry"): ("account_industry",),
    ("accounts", "region"): ("account_region",),
}


def left_out(report: dict[str, Any]) -> dict[str, str]:
    """Feature -> why it is left out, from the columns the export did not have."""
    out: dict[str, str] = {}
    for (table, column), names in NEEDS.items():
        if column in report.get("tables", {}).get(table, {}).get("missing_columns", []):
            for name in names:
                out.setdefault(name, f"{table}.{column} is not in the export")
    return out


def features(
    validated_dir: Path, out_dir: Path, base: BaseParams, params: FeaturesParams
) -> Manifest:
    """Build snapshots, labels and point-in-time features; write them and the manifest."""
    validated_dir = Path(validated_dir)
    report = read_json(validated_dir / "report.json")
    export_date = dt.date.fromisoformat(report["export_date"])
    present = [s for s in OPTIONAL_SOURCES if (validated_dir / f"{s}.parquet").exists()]
    missing = [s for s in OPTIONAL_SOURCES if s not in present]
    if missing:
        log.info("sources missing, their features are left out: %s", ", ".join(missing))
    with (
        tempfile.TemporaryDirectory(prefix="churn-duckdb-") as spill,
        atomic_dir(Path(out_dir)) as tmp,
    ):
        con = _connect(validated_dir, params, Path(spill))
        try:
            dates = _make_keys(con, base, params, export_date, present)
            built, event_types = _build_families(con, present, params)
            dropped = left_out(report)
            if dropped:
                log.info("features left out: %s", dropped)
            built = [(t, [f for f in feats if f.name not in dropped]) for t, feats in built]
            rows, labeled = _write(con, built, tmp / "snapshots.parquet")
        finally:
            con.close()
        manifest = build_manifest(
            [f for _, feats in built for f in feats],
            missing_sources=missing,
            export_date=export_date,
            horizon_days=base.horizon_days,
            grace_gap_days=base.grace_gap_days,
            frequency=params.frequency,
            event_types=event_types,
            snapshot_dates=dates,
            rows=rows,
            labeled_rows=labeled,
            features_left_out=dropped,
        )
        manifest.save(tmp / "manifest.json")
    return manifest
