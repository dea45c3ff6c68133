"""Checks a raw export against the data contract and writes typed Parquet copies (DuckDB).

Every rule of `docs/data-contract.md` is checked in SQL over a disk-backed DuckDB database,
so a usage table of hundreds of millions of rows never has to fit in memory. Each file is read
once into a typed table that also flags, per row, the values that are missing or unparsable;
one aggregate then counts every rule. The first rule a table breaks (in the contract's order)
stops the run with a `ContractError` naming file, column, rule, the number of rows that break
it and up to five of them, found by a second look only then. Orphans and duplicates are
deleted in place, and the copy out normalises categoricals on the way, so the kept rows are
written in file order without a sort.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import shutil
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from data.contract import CHANNELS, DIRECTIONS, TABLES, Column, Kind, Table
from data.csv_format import broken_lines
from data.errors import ContractError
from data.params import BaseParams, ValidateParams
from data.readers import (
    RULE_FOR_KIND,
    Source,
    bad_value_expr,
    find_file,
    open_source,
    read_errors,
    shown_expr,
    sql_type,
    text_expr,
    typed_expr,
)

log = logging.getLogger(__name__)
EXAMPLES = 5
# Categorical columns lower-cased on the way out: known values, and what replaces an unknown
# one (None: unknown values are kept and not counted).
CATEGORICALS: dict[str, tuple[tuple[str, ...], str] | None] = {
    "channel": (CHANNELS, "'other'"),
    "direction": (DIRECTIONS, "NULL"),
    "priority": None,
}


@dataclass(frozen=True)
class Check:
    """One row-level rule: the rows where `condition` holds break it.

    A value check (`typed` false) reads the raw values; its condition is also stored, per
    row, as one bit of the typed table's `__bad` column. A typed check reads the typed table.
    """

    column: Column
    rule: str
    condition: str
    typed: bool


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
        _read_typed(con, src)
    checks = _value_checks(src) + _bounds_checks(table)
    missing = [c for c in table.required_columns if c not in src.types]
    if missing:
        raise ContractError(src.file, missing[0], "required column is missing")
    with _phase(table, "check rules"):
        rows_in, orphans = _check_rules(con, src, checks, rules.max_orphan_share)
    if rows_in == 0:
        return None
    with _phase(table, "drop orphans and duplicates"):
        if orphans:
            _drop_orphans(con, table)
        duplicates = _drop_duplicates(con, table) if table.dedupe_exact else 0
    with _phase(table, "summarise"):
        rows, span, unknown = _summarise(con, table)
    with _phase(table, "copy out"):
        _copy_out(con, table, out_dir / f"{table.name}.parquet", unknown)
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


def _value_checks(src: Source) -> list[Check]:
    """Required values present, and every value parses as its contract type (raw values)."""
    rules = _value_conditions(src, named=False)
    return [Check(column, rule, condition, typed=False) for column, rule, condition in rules]


def _value_conditions(src: Source, named: bool) -> list[tuple[Column, str, str]]:
    """Column, rule and SQL condition of each value check, in the contract's order.

    `named`: the condition reads `__text_<column>` and `__typed_<column>`, the trimmed and
    typed values computed once by `_create_typed`, instead of computing them again.
    """
    found = []
    for column in src.table.columns:
        raw_type = src.types.get(column.name)
        if raw_type is None:
            continue
        text = f"__text_{column.name}" if named else text_expr(column.name)
        typed = f"__typed_{column.name}" if named else None
        if column.required:
            found.append((column, "must not be empty", f"{text} IS NULL"))
        if column.kind is not Kind.STRING:
            bad = bad_value_expr(column, raw_type, text, typed)
            found.append((column, RULE_FOR_KIND[column.kind], bad))
    return found


def _bounds_checks(table: Table) -> list[Check]:
    """Ranges of the typed values, column by column."""
    checks = []
    for column in table.columns:
        bounds = _bounds_rule(column)
        if bounds:
            checks.append(Check(column, bounds[1], bounds[0], typed=True))
    return checks


def _ordered_check(table: Table) -> Check | None:
    """End before start, on the typed values."""
    if not table.ordered:
        return None
    start, end = table.ordered
    return Check(table.column(end), f"{end} is before {start}", f"{end} < {start}", typed=True)


def _read_typed(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Read the file once into `typed_<name>`.

    A CSV read stops at the first line breaking the CSV format; the file is then read again
    to name the lines that break it.
    """
    try:
        with read_errors(src):
            _create_typed(con, src)
    except ContractError:
        if src.format != "csv":
            raise
        found = broken_lines(con, src.path, list(src.types), src.table.name)
        if found:
            raise found from None
        raise


def _create_typed(con: duckdb.DuckDBPyConnection, src: Source) -> None:
    """Create `typed_<name>`: contract-typed values plus the `__bad` bits of each row.

    Bit i of `__bad` is set where value check i fails. Each value is trimmed and typed once,
    in nested subqueries, and the checks read those. File order is kept, so a row's `rowid`
    is its 0-based position in the file.
    """
    table = src.table
    present = [c for c in table.columns if c.name in src.types]
    texts = [f"{text_expr(c.name)} AS __text_{c.name}" for c in present]
    typed = [
        f"{typed_expr(c, src.types[c.name], f'__text_{c.name}')} AS __typed_{c.name}"
        for c in present
    ]
    values = [f"__typed_{c.name}" if c in present else typed_expr(c, None) for c in table.columns]
    bits = [
        f"CASE WHEN {condition} THEN {1 << i} ELSE 0 END"
        for i, (_, _, condition) in enumerate(_value_conditions(src, named=True))
    ]
    bad = " + ".join(bits) if bits else "0"
    selects = ", ".join(f"{v} AS {c.name}" for v, c in zip(values, table.columns, strict=True))
    inner = f"SELECT *, {', '.join(texts)} FROM {src.reader}" if present else src.reader
    middle = f"SELECT *, {', '.join(typed)} FROM ({inner})" if present else inner
    con.execute(
        f"CREATE OR REPLACE TABLE typed_{table.name} AS "
        f"SELECT {selects}, CAST({bad} AS BIGINT) AS __bad FROM ({middle})"
    )


def _check_rules(
    con: duckdb.DuckDBPyConnection, src: Source, checks: Sequence[Check], max_share: float
) -> tuple[int, int]:
    """Count every rule in one pass; raise on the first one broken. Returns (rows, orphans).

    A required table without rows is an error; an optional one is left to the caller.
    """
    table = src.table
    ordered = _ordered_check(table)
    counted = [*checks, *([ordered] if ordered else [])]
    flagged = [c for c in counted if not c.typed]
    counts = [
        _count_where(c.condition if c.typed else f"(__bad & {1 << flagged.index(c)}) <> 0")
        for c in counted
    ]
    orphan = _count_where(_orphan_condition(table))
    row = con.execute(
        f"SELECT count(*), {orphan}, {', '.join(counts) or '0'} FROM typed_{table.name}"
    ).fetchone()
    assert row is not None
    rows_in, orphans, broken = int(row[0]), int(row[1]), [int(n) for n in row[2:]]
    if table.required and rows_in == 0:
        raise ContractError(src.file, None, "required table has no rows")
    failed = dict(zip(counted, broken, strict=False))
    for check in checks:
        _raise_if_broken(con, src, check, failed[check])
    if table.unique:
        _check_unique(con, src, table.column(table.unique))
    if ordered:
        _raise_if_broken(con, src, ordered, failed[ordered])
    if orphans and orphans > max_share * rows_in:
        rule = (
            f"references accounts missing from accounts ({orphans / rows_in:.1%} of rows, "
            f"over the {max_share:.1%} limit)"
        )
        account = table.column("account_id")
        orphan_condition = _orphan_condition(table)
        _raise_if_broken(con, src, Check(account, rule, orphan_condition, typed=True), orphans)
    return rows_in, orphans


def _orphan_condition(table: Table) -> str:
    """SQL true for a typed row naming an account missing from accounts."""
    if not table.references_accounts:
        return "false"
    return "account_id NOT IN (SELECT account_id FROM typed_accounts)"


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
    name = column.name
    dupes = con.execute(
        f"SELECT __row, {name} FROM (SELECT __row, {name}, row_number() OVER "
        f"(PARTITION BY {name} ORDER BY __row) AS k FROM {_numbered_typed(src.table)}) "
        "WHERE k > 1 ORDER BY __row"
    ).fetchall()
    if dupes:
        examples = [f"{src.where(r)}: '{v}'" for r, v in dupes[:EXAMPLES]]
        raise ContractError(src.file, name, "must be unique", len(dupes), examples)


def _numbered_typed(table: Table) -> str:
    """The typed table with `__row`, each row's 1-based position in the file, as a subquery."""
    return f"(SELECT rowid + 1 AS __row, * FROM typed_{table.name})"


def _drop_orphans(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    con.execute(f"DELETE FROM typed_{table.name} WHERE {_orphan_condition(table)}")


def _drop_duplicates(con: duckdb.DuckDBPyConnection, table: Table) -> int:
    """Delete every exact duplicate row but the first in file order; return how many.

    Only rows whose hash is shared are compared value by value, so the expensive exact
    comparison touches the duplicates and the rare hash collisions, not the whole table.
    """
    cols = ", ".join(c.name for c in table.columns)
    name = table.name
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE shared_hashes AS SELECT hash({cols}) AS h "
        f"FROM typed_{name} GROUP BY h HAVING count(*) > 1"
    )
    later = (
        f"SELECT r FROM (SELECT rowid AS r, row_number() OVER (PARTITION BY {cols} ORDER BY rowid)"
        f" AS k FROM typed_{name} WHERE hash({cols}) IN (SELECT h FROM shared_hashes)) WHERE k > 1"
    )
    row = con.execute(f"DELETE FROM typed_{name} WHERE rowid IN ({later})").fetchone()
    con.execute("DROP TABLE shared_hashes")
    return int(row[0]) if row else 0


def _normalised(column: Column, unknown: dict[str, int]) -> str:
    """SQL of a column's value as written out: categoricals lower-cased, defaults filled.

    Written so that DuckDB knows a column has no missing values exactly when the updates it
    replaces would have left none (a Parquet column is then marked required): an unknown
    value is only replaced where there is one, and a default fills in by CASE.
    """
    name = column.name
    if name in CATEGORICALS:
        known = CATEGORICALS[name]
        if known is None or not unknown.get(name):
            return f"lower({name})"
        return f"CASE WHEN {_unknown(name)} THEN {known[1]} ELSE lower({name}) END"
    if column.default is not None:
        return f"CASE WHEN {name} IS NULL THEN {column.default!r} ELSE {name} END"
    return name


def _unknown(name: str) -> str:
    """SQL true where a categorical value, lower-cased, is not one of its known values."""
    known = CATEGORICALS[name]
    assert known is not None
    values = ", ".join(f"'{v}'" for v in known[0])
    return f"(lower({name}) IS NOT NULL AND lower({name}) NOT IN ({values}))"


def _summarise(
    con: duckdb.DuckDBPyConnection, table: Table
) -> tuple[int, tuple[dt.date, dt.date] | None, dict[str, int]]:
    """Rows kept, their date range, and unknown categorical values, in one pass."""
    names = [c.name for c in table.columns]
    counted = [n for n in CATEGORICALS if n in names and CATEGORICALS[n] is not None]
    low, high = _span_exprs(table)
    unknown = ", ".join(_count_where(_unknown(n)) for n in counted) or "0"
    row = con.execute(
        f"SELECT count(*), {low}, {high}, {unknown} FROM typed_{table.name}"
    ).fetchone()
    assert row is not None
    span = (row[1], row[2]) if row[1] is not None else None
    found = {n: int(v) for n, v in zip(counted, row[3:], strict=False) if v}
    return int(row[0]), span, found


def _span_exprs(table: Table) -> tuple[str, str]:
    """SQL of the earliest and latest day of the table's date columns."""
    columns = table.date_columns_for_range
    if not columns:
        return "NULL", "NULL"
    low = ", ".join(_utc_day(table, c, f"min({c})") for c in columns)
    high = ", ".join(_utc_day(table, c, f"max({c})") for c in columns)
    return f"least({low})", f"greatest({high})"


def _utc_day(table: Table, column: str, value: str) -> str:
    """SQL of the UTC day of `value`, a value of `column` (a date or a timestamp).

    Taken after min or max, which is the same as before since the day never decreases as
    the instant grows, and converts one value instead of every row.
    """
    if table.column(column).kind is Kind.DATE:
        return f"CAST({value} AS DATE)"
    return f"CAST(timezone('UTC', {value}) AS DATE)"


def _copy_out(
    con: duckdb.DuckDBPyConnection, table: Table, path: Path, unknown: dict[str, int]
) -> None:
    """Write the kept rows, normalised, in file order (a single-table scan keeps it)."""
    cols = ", ".join(
        f"CAST({_normalised(c, unknown)} AS {sql_type(c.kind)}) AS {c.name}" for c in table.columns
    )
    target = str(path).replace("'", "''")
    con.execute(
        f"COPY (SELECT {cols} FROM typed_{table.name}) TO '{target}' "
        "(FORMAT parquet, COMPRESSION zstd)"
    )


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


def _raise_if_broken(con: duckdb.DuckDBPyConnection, src: Source, check: Check, count: int) -> None:
    """Raise a ContractError when `count` rows break `check`, with up to five of them.

    Failures are rare, so only then are the rows looked up: a value check reads the file
    again (numbered in file order) to quote the raw text, a typed check the typed table.
    """
    if not count:
        return
    column = check.column
    relation = _numbered_typed(src.table) if check.typed else src.numbered
    shown = shown_expr(column) if check.typed else text_expr(column.name)
    with read_errors(src):
        rows = con.execute(
            f"SELECT __row, {shown} FROM {relation} WHERE {check.condition} "
            f"ORDER BY __row LIMIT {EXAMPLES}"
        ).fetchall()
    examples = [f"{src.where(r)}: '{'' if v is None else v}'" for r, v in rows]
    raise ContractError(src.file, column.name, check.rule, count, examples)


def _count_where(condition: str) -> str:
    """SQL counting the rows where `condition` is true (0, not NULL, when there are none)."""
    return f"count(*) FILTER (WHERE {condition})"
