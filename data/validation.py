"""Checks a raw export against the data contract and writes typed Parquet copies (DuckDB).

Every rule of `shared/data-contract.md` is checked in SQL over a disk-backed DuckDB database,
so a usage table of hundreds of millions of rows never has to fit in memory. The first rule a
table breaks stops the run with a `ContractError` naming file, column, rule, the number of
rows that break it and up to five of them.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import duckdb

from data.contract import CHANNELS, DIRECTIONS, TABLES, Column, Kind, Table
from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.readers import (
    RULE_FOR_KIND,
    Source,
    bad_value_expr,
    find_file,
    load_raw,
    sql_type,
    text_expr,
    typed_expr,
)

log = logging.getLogger(__name__)
EXAMPLES = 5


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
        ranges: list[tuple[dt.date, dt.date]] = []
        for name, path in paths.items():
            if path is None:
                log.info("%s: not in the export; its features are left out", name)
                continue
            started = time.perf_counter()
            tables[name], span = _process(con, load_raw(con, TABLES[name], path), out_dir, rules)
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
    return _report(tables, [n for n, p in paths.items() if p is None], ranges, base)


def _connect(scratch: Path, rules: ValidateParams) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(scratch / "validate.duckdb"))
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"SET memory_limit = '{rules.memory_limit}'")
    con.execute(f"SET temp_directory = '{scratch / 'spill'}'")
    con.execute("SET preserve_insertion_order = true")
    if rules.threads:
        con.execute(f"SET threads = {rules.threads}")
    return con


def _process(
    con: duckdb.DuckDBPyConnection, src: Source, out_dir: Path, rules: ValidateParams
) -> tuple[dict[str, Any], tuple[dt.date, dt.date] | None]:
    table = src.table
    missing = [c for c in table.required_columns if c not in src.types]
    if missing:
        raise ContractError(src.file, missing[0], "required column is missing")
    rows_in = _scalar(con, f"SELECT count(*) FROM raw_{table.name}")
    if table.name == "accounts" and rows_in == 0:
        raise ContractError(src.file, None, "has no rows")
    _check_values(con, src)
    _create_typed(con, src)
    _check_rules(con, src)
    orphans = _drop_orphans(con, src, rules.max_orphan_share) if table.references_accounts else 0
    duplicates = _drop_duplicates(con, table) if table.dedupe_exact else 0
    unknown = _normalise(con, table)
    _copy_out(con, table, out_dir / f"{table.name}.parquet")
    entry = {
        "format": src.format,
        "rows_in": rows_in,
        "rows": _scalar(con, f"SELECT count(*) FROM typed_{table.name}"),
        "orphans": orphans,
        "duplicates": duplicates,
        "missing_columns": [c.name for c in table.columns if c.name not in src.types],
        **({"unknown_values": unknown} if unknown else {}),
    }
    return entry, _span(con, table)


def _check_values(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Required values present, and every value parses as its contract type."""
    for column in src.table.columns:
        raw_type = src.types.get(column.name)
        if raw_type is None:
            continue
        if column.required:
            _fail_where(con, src, column, f"{text_expr(column.name)} IS NULL", "must not be empty")
        if column.kind is not Kind.STRING:
            _fail_where(
                con, src, column, bad_value_expr(column, raw_type), RULE_FOR_KIND[column.kind]
            )


def _create_typed(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    selects = ", ".join(
        f"{typed_expr(c, src.types.get(c.name))} AS {c.name}" for c in src.table.columns
    )
    con.execute(
        f"CREATE OR REPLACE TABLE typed_{src.table.name} AS "
        f"SELECT __row, {selects} FROM raw_{src.table.name}"
    )
    con.execute(f"DROP TABLE raw_{src.table.name}")


def _check_rules(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Ranges, defaults, uniqueness and end-before-start on the typed values."""
    table = src.table
    for column in table.columns:
        bounds = _bounds_rule(column)
        if bounds:
            cond, rule = bounds
            _fail_where(con, src, column, cond, rule, typed=True)
    if table.unique:
        _check_unique(con, src, table.column(table.unique))
    if table.ordered:
        start, end = table.ordered
        _fail_where(
            con, src, table.column(end), f"{end} < {start}", f"{end} is before {start}", typed=True
        )


def _bounds_rule(column: Column) -> tuple[str, str] | None:
    low, high = column.min_value, column.max_value
    if low is None and high is None:
        return None
    name = column.name
    if low is not None and high is not None:
        return f"({name} < {low} OR {name} > {high})", f"must be from {low:g} to {high:g}"
    if low is not None:
        return f"{name} < {low}", f"must be >= {low:g}"
    return f"{name} > {high}", f"must be <= {high:g}"


def _check_unique(con: duckdb.DuckDBPyConnection, src: Source, column: Column) -> None:
    name, table = column.name, src.table.name
    dupes = con.execute(
        f"SELECT __row, {name} FROM (SELECT __row, {name}, row_number() OVER "
        f"(PARTITION BY {name} ORDER BY __row) AS k FROM typed_{table}) WHERE k > 1 ORDER BY __row"
    ).fetchall()
    if dupes:
        examples = [f"{src.where(r)}: '{v}'" for r, v in dupes[:EXAMPLES]]
        raise ContractError(src.file, name, "must be unique", len(dupes), examples)


def _drop_orphans(con: duckdb.DuckDBPyConnection, src: Source, max_share: float) -> int:
    table = src.table.name
    orphan = "account_id NOT IN (SELECT account_id FROM typed_accounts)"
    count = _scalar(con, f"SELECT count(*) FROM typed_{table} WHERE {orphan}")
    total = _scalar(con, f"SELECT count(*) FROM typed_{table}")
    if count and count > max_share * total:
        rule = (
            f"references accounts missing from accounts ({count / total:.1%} of rows, "
            f"over the {max_share:.1%} limit)"
        )
        _fail_where(con, src, src.table.column("account_id"), orphan, rule, typed=True)
    if count:
        con.execute(f"DELETE FROM typed_{table} WHERE {orphan}")
    return count


def _drop_duplicates(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    cols = ", ".join(c.name for c in table.columns)
    before = _scalar(con, f"SELECT count(*) FROM typed_{table.name}")
    con.execute(
        f"CREATE OR REPLACE TABLE typed_{table.name} AS SELECT min(__row) AS __row, {cols} "
        f"FROM typed_{table.name} GROUP BY ALL ORDER BY __row"
    )
    return before - _scalar(con, f"SELECT count(*) FROM typed_{table.name}")


def _normalise(con: duckdb.DuckDBPyConnection, table: Table) -> dict[str, int]:
    """Lower-case known categorical columns; unknown channels become 'other' (counted)."""
    unknown: dict[str, int] = {}
    known = {"channel": CHANNELS, "direction": DIRECTIONS}
    for column in ("channel", "direction", "priority"):
        if column not in {c.name for c in table.columns}:
            continue
        con.execute(f"UPDATE typed_{table.name} SET {column} = lower({column})")
        if column in known:
            values = ", ".join(f"'{v}'" for v in known[column])
            bad = f"{column} IS NOT NULL AND {column} NOT IN ({values})"
            count = _scalar(con, f"SELECT count(*) FROM typed_{table.name} WHERE {bad}")
            replacement = "'other'" if column == "channel" else "NULL"
            if count:
                con.execute(f"UPDATE typed_{table.name} SET {column} = {replacement} WHERE {bad}")
                unknown[column] = count
    if "quantity" in {c.name for c in table.columns}:
        con.execute(f"UPDATE typed_{table.name} SET quantity = 1.0 WHERE quantity IS NULL")
    return unknown


def _copy_out(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> None:
    cols = ", ".join(f"CAST({c.name} AS {sql_type(c.kind)}) AS {c.name}" for c in table.columns)
    target = str(path).replace("'", "''")
    con.execute(
        f"COPY (SELECT {cols} FROM typed_{table.name} ORDER BY __row) TO '{target}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )


def _span(con: duckdb.DuckDBPyConnection, table: Table) -> tuple[dt.date, dt.date] | None:
    parts = [
        f"CAST({c} AS DATE)"
        if table.column(c).kind is Kind.DATE
        else f"CAST(timezone('UTC', {c}) AS DATE)"
        for c in table.date_columns_for_range
    ]
    if not parts:
        return None
    low = ", ".join(f"min({p})" for p in parts)
    high = ", ".join(f"max({p})" for p in parts)
    row = con.execute(f"SELECT least({low}), greatest({high}) FROM typed_{table.name}").fetchone()
    return (row[0], row[1]) if row and row[0] is not None else None


def _report(
    tables: dict[str, Any],
    missing: Sequence[str],
    ranges: Sequence[tuple[dt.date, dt.date]],
    base: BaseParams,
) -> dict[str, Any]:
    start = min(r[0] for r in ranges) if ranges else None
    end = max(r[1] for r in ranges) if ranges else None
    export_date = base.export_date or (end + dt.timedelta(days=1) if end else None)
    return {
        "tables": tables,
        "missing_sources": list(missing),
        "date_range": {"start": str(start), "end": str(end)},
        "export_date": str(export_date),
    }


def _fail_where(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    column: Column,
    condition: str,
    rule: str,
    typed: bool = False,
) -> None:
    """Raise a ContractError when any row matches `condition`, with up to five of them."""
    relation = f"{'typed' if typed else 'raw'}_{src.table.name}"
    shown = column.name if typed else text_expr(column.name)
    count = _scalar(con, f"SELECT count(*) FROM {relation} WHERE {condition}")
    if not count:
        return
    rows = con.execute(
        f"SELECT __row, CAST({shown} AS VARCHAR) FROM {relation} WHERE {condition} "
        f"ORDER BY __row LIMIT {EXAMPLES}"
    ).fetchall()
    examples = [f"{src.where(r)}: '{'' if v is None else v}'" for r, v in rows]
    raise ContractError(src.file, column.name, rule, count, examples)


def _scalar(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    row = con.execute(sql).fetchone()
    return int(row[0]) if row else 0
