"""The `features` DVC stage: validated Parquet in, snapshots.parquet and manifest.json out."""

from __future__ import annotations

import datetime as dt
import logging
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from data.console import progress
from data.contract import OPTIONAL_SOURCES, TABLES
from data.io import atomic_dir, read_json
from data.params import BaseParams
from features.families import FAMILIES
from features.family import Connection, Family
from features.lives import build_lives, build_snapshots, snapshot_dates
from features.manifest import ID_COLUMNS, LABEL, Feature, Manifest, build_manifest
from features.params import FeaturesParams
from features.snapshots import MANIFEST, SNAPSHOTS

log = logging.getLogger(__name__)

Built = list[tuple[Family, list[Feature]]]


def _quote(path: Path) -> str:
    """A path as a SQL string literal."""
    return "'" + str(path).replace("'", "''") + "'"


def connect(validated_dir: Path, params: FeaturesParams, spill: Path) -> duckdb.DuckDBPyConnection:
    """A DuckDB session (UTC, spilling to `spill`) with a view of each validated table."""
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


@contextmanager
def open_engine(validated_dir: Path, params: FeaturesParams, spill: Path) -> Iterator[Connection]:
    """The engine `features.engine` names, with a view of each validated table."""
    if params.engine == "spark":
        from features.spark import spark_connection  # PySpark loads only when asked for

        with spark_connection(validated_dir, params.spark, spill) as session:
            yield session
        return
    con = connect(validated_dir, params, spill)
    try:
        yield con
    finally:
        con.close()


def _history_start(con: Connection, present: list[str]) -> dt.date | None:
    """The first day every present source has rows for.

    No account is active before the first paid day; and before a source's first row the
    export simply holds no history of it (a CRM connected later), so snapshots there would
    read "never used" or "never contacted" where nothing is known.
    """
    firsts = [con.execute("SELECT min(start_date) FROM subscriptions").fetchall()[0][0]]
    for family in FAMILIES:
        if family.first_row and family.source in present:
            query = f"SELECT min(CAST({family.first_row} AS DATE)) FROM {family.source}"
            firsts.append(con.execute(query).fetchall()[0][0])
    known = [pd.Timestamp(f).date() for f in firsts if f is not None]
    return max(known) if known else None


def make_keys(
    con: Connection,
    base: BaseParams,
    params: FeaturesParams,
    export_date: dt.date,
    present: list[str],
) -> list[dt.date]:
    """Create tables `acc` (account codes) and `keys` (one row per snapshot); the dates."""
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


def _present(family: Family, present: list[str]) -> bool:
    return TABLES[family.source].required or family.source in present


def build_families(con: Connection, present: list[str], params: FeaturesParams) -> Built:
    """Create each family's table from `keys`; the families built, each with its features."""
    chosen = [family for family in FAMILIES if _present(family, present)]
    built: Built = []
    with progress(total=len(chosen), desc="features", unit="family") as bar:
        for family in chosen:
            started = time.perf_counter()
            context = family.prepare(con, params) if family.prepare else None
            family.build(con, context)
            feats = family.features(context)
            took = time.perf_counter() - started
            log.info("%s: %d features in %.1f s", family.name, len(feats), took)
            bar.update(1)
            built.append((family, feats))
    return built


def _select_sql(built: Built) -> str:
    cols = [*(f"k.{c}" for c in ID_COLUMNS), f"k.{LABEL}", "k.churn_date"]
    cols += [f"{family.table}.{c}" for family, _ in built for c in family.extras]
    cols += [f"{family.table}.{f.name}" for family, feats in built for f in feats]
    joins = " ".join(f"LEFT JOIN {family.table} USING (sid)" for family, _ in built)
    return f"SELECT {', '.join(cols)} FROM keys k {joins} ORDER BY k.as_of, k.account_id"


def _write(con: Connection, built: Built, out: Path) -> tuple[int, int]:
    started = time.perf_counter()
    con.execute(f"COPY ({_select_sql(built)}) TO {_quote(out)} (FORMAT parquet)")
    counts = con.execute("SELECT count(*), count(churned) FROM keys").fetchone()
    assert counts is not None
    log.info("wrote %d rows (%d labeled) in %.1f s", *counts, time.perf_counter() - started)
    return int(counts[0]), int(counts[1])


def left_out(report: dict[str, Any]) -> dict[str, str]:
    """Feature -> why it is left out, from the optional columns the export did not have.

    Their absence (not emptiness) makes features lie: see each family's `needs`.
    """
    out: dict[str, str] = {}
    for (table, column), names in (n for family in FAMILIES for n in family.needs.items()):
        if column in report.get("tables", {}).get(table, {}).get("missing_columns", []):
            for name in names:
                out.setdefault(name, f"{table}.{column} is not in the export")
    return out


def _event_types(built: Built) -> list[str]:
    """The event types counted one by one, in the order of their features."""
    return list(dict.fromkeys(f.event_type for _, feats in built for f in feats if f.event_type))


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
        tempfile.TemporaryDirectory(prefix="churn-features-") as spill,
        atomic_dir(Path(out_dir)) as tmp,
    ):
        engine = open_engine(validated_dir, params, Path(spill))
        with engine as con:
            dates = make_keys(con, base, params, export_date, present)
            built = build_families(con, present, params)
            dropped = left_out(report)
            if dropped:
                log.info("features left out: %s", dropped)
            built = [(fam, [f for f in feats if f.name not in dropped]) for fam, feats in built]
            rows, labeled = _write(con, built, tmp / SNAPSHOTS)
        manifest = build_manifest(
            [f for _, feats in built for f in feats],
            missing_sources=missing,
            export_date=export_date,
            horizon_days=base.horizon_days,
            grace_gap_days=base.grace_gap_days,
            frequency=params.frequency,
            event_types=_event_types(built),
            snapshot_dates=dates,
            rows=rows,
            labeled_rows=labeled,
            features_left_out=dropped,
        )
        manifest.save(tmp / MANIFEST)
    return manifest
