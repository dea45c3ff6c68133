"""Checks a raw export against the data contract and writes typed Parquet copies (DuckDB).

Every rule of `docs/data-contract.md` is checked in SQL over a disk-backed DuckDB database,
so a usage table of hundreds of millions of rows never has to fit in memory. Each file is read
once into a typed table that also flags, per row, the values that are missing or unparsable;
one aggregate then counts every rule (`data.checks`). The first rule a table breaks (in the
contract's order) stops the run with a `ContractError` naming file, column, rule, the number
of rows that break it and up to five of them, found by a second look only then. Orphans and
duplicates are deleted in place, and the copy out normalises categoricals on the way, so the
kept rows are written in file order without a sort (`data.typed_tables`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from data.checks import bounds_checks, check_rules, value_checks
from data.contract import TABLES, Table
from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.readers import Source, find_file, open_source
from data.typed_tables import copy_out, drop_duplicates, drop_orphans, read_typed, summarise

log = logging.getLogger(__name__)


def check_and_copy(
    raw_dir: Path, out_dir: Path, base: BaseParams, rules: ValidateParams
) -> dict[str, Any]:
    """Validate each table of `raw_dir`, write `<table>.parquet` to `out_dir`, return the report."""
    if not raw_dir.is_dir():
        raise ContractError(str(raw_dir), None, "export folder not found")
    paths = {name: find_file(raw_dir, table) for name, table in TABLES.items()}
    scratch = out_dir / ".scratch"
    scratch.mkdir()
    con = _connect(scratch, rules)
    try:
        tables: dict[str, Any] = {}
        empty: list[str] = []
        ranges: list[tuple[dt.date, dt.date]] = []
        for name, path in paths.items():
            if path is None:
                log.info("%s: not in the export; its features are left out", name)
                continue
            started = time.perf_counter()
            src = open_source(con, TABLES[name], path)
            processed = _process(con, src, out_dir, rules)
            if processed is None:
                log.info("%s: a header without rows; its features are left out", path.name)
                empty.append(name)
                continue
            tables[name], span = processed
            ranges += [span] if span else []
            log.info(
                "%s: %d rows kept of %d (%d orphans, %d duplicates) in %.1fs",
                path.name,
                tables[name]["rows"],
                tables[name]["rows_in"],
                tables[name]["orphans"],
                tables[name]["duplicates"],
                time.perf_counter() - started,
            )
    finally:
        con.close()
        shutil.rmtree(scratch, ignore_errors=True)
    missing = [n for n, p in paths.items() if p is None or n in empty]
    return _report(tables, missing, empty, ranges, base)


def _connect(scratch: Path, rules: ValidateParams) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(scratch / "validate.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{rules.memory_limit}'")
    con.execute(f"SET temp_directory = '{scratch / 'spill'}'")
    # Kept on: the typed tables' rowid is then the file order, and the copy out keeps it.
    con.execute("SET preserve_insertion_order = true")
    if rules.threads:
        con.execute(f"SET threads = {rules.threads}")
    return con


@contextlib.contextmanager
def _phase(table: Table, name: str) -> Iterator[None]:
    """Log how long one phase of one table took (the benchmark prints these)."""
    started = time.perf_counter()
    yield
    seconds = time.perf_counter() - started
    log.debug(
        "%s: %s in %.2fs",
        table.name,
        name,
        seconds,
        extra={"table": table.name, "phase": name, "seconds": seconds},
    )


def _process(
    con: duckdb.DuckDBPyConnection, src: Source, out_dir: Path, rules: ValidateParams
) -> tuple[dict[str, Any], tuple[dt.date, dt.date] | None] | None:
    """Check one table and copy it out: its report entry and date span; None when it is empty."""
    table = src.table
    with _phase(table, "read and type"):
        read_typed(con, src)
    checks = value_checks(src) + bounds_checks(table)
    missing = [c for c in table.required_columns if c not in src.types]
    if missing:
        raise ContractError(src.file, missing[0], "required column is missing")
    with _phase(table, "check rules"):
        rows_in, orphans = check_rules(con, src, checks, rules.max_orphan_share)
    if rows_in == 0:
        return None
    with _phase(table, "drop orphans and duplicates"):
        if orphans:
            drop_orphans(con, table)
        duplicates = drop_duplicates(con, table) if table.dedupe_exact else 0
    with _phase(table, "summarise"):
        rows, span, unknown = summarise(con, table)
    with _phase(table, "copy out"):
        copy_out(con, table, out_dir / f"{table.name}.parquet", unknown)
    entry = {
        "format": src.format,
        "rows_in": rows_in,
        "rows": rows,
        "orphans": orphans,
        "duplicates": duplicates,
        "missing_columns": [c.name for c in table.columns if c.name not in src.types],
        **({"unknown_values": unknown} if unknown else {}),
    }
    return entry, span


def _report(
    tables: dict[str, Any],
    missing: Sequence[str],
    empty: Sequence[str],
    ranges: Sequence[tuple[dt.date, dt.date]],
    base: BaseParams,
) -> dict[str, Any]:
    start = min(r[0] for r in ranges) if ranges else None
    end = max(r[1] for r in ranges) if ranges else None
    export_date = base.export_date or (end + dt.timedelta(days=1) if end else None)
    return {
        "tables": tables,
        "missing_sources": list(missing),
        "empty_sources": list(empty),
        "date_range": {"start": str(start), "end": str(end)},
        "export_date": str(export_date),
    }
