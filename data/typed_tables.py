"""A table's typed DuckDB copy: read once from the raw file, cleaned, summarised, copied out.

Orphans and duplicates are deleted in place, and the copy out normalises categoricals on the
way, so the kept rows are written in file order without a sort.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb

from data.checks import count_where, orphan_condition, value_conditions
from data.contract import CHANNELS, DIRECTIONS, Column, Kind, Table
from data.csv_format import broken_lines
from data.errors import ContractError
from data.readers import Source, read_errors, sql_type, text_expr, typed_expr

# Categorical columns lower-cased on the way out: known values, and what replaces an unknown
# one (None: unknown values are kept and not counted).
CATEGORICALS: dict[str, tuple[tuple[str, ...], str] | None] = {
    "channel": (CHANNELS, "'other'"),
    "direction": (DIRECTIONS, "NULL"),
    "priority": None,
}


def read_typed(con: duckdb.DuckDBPyConnection, src: Source) -> None:
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
        for i, (_, _, condition) in enumerate(value_conditions(src, named=True))
    ]
    bad = " + ".join(bits) if bits else "0"
    selects = ", ".join(f"{v} AS {c.name}" for v, c in zip(values, table.columns, strict=True))
    inner = f"SELECT *, {', '.join(texts)} FROM {src.reader}" if present else src.reader
    middle = f"SELECT *, {', '.join(typed)} FROM ({inner})" if present else inner
    con.execute(
        f"CREATE OR REPLACE TABLE typed_{table.name} AS "
        f"SELECT {selects}, CAST({bad} AS BIGINT) AS __bad FROM ({middle})"
    )


def drop_orphans(con: duckdb.DuckDBPyConnection, table: Table) -> None:
    """Delete the rows naming an account missing from accounts."""
    con.execute(f"DELETE FROM typed_{table.name} WHERE {orphan_condition(table)}")


def drop_duplicates(con: duckdb.DuckDBPyConnection, table: Table) -> int:
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


def summarise(
    con: duckdb.DuckDBPyConnection, table: Table
) -> tuple[int, tuple[dt.date, dt.date] | None, dict[str, int]]:
    """Rows kept, their date range, and unknown categorical values, in one pass."""
    names = [c.name for c in table.columns]
    counted = [n for n in CATEGORICALS if n in names and CATEGORICALS[n] is not None]
    low, high = _span_exprs(table)
    unknown = ", ".join(count_where(_unknown(n)) for n in counted) or "0"
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


def copy_out(
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
