"""Reading raw contract tables with DuckDB, and the SQL that types their values.

CSV columns are read as text (in the contract's CSV format, `data.csv_format`) so that
validation, not the reader, decides what is unparsable and can point at CSV line numbers;
Parquet columns keep their own types and are converted. A file is described once and then
read straight into its typed table; only a failing rule reads it again, numbered in file
order, to show the lines that break it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import duckdb

from data.contract import Column, Kind, Table
from data.csv_format import header_columns, reader_sql
from data.errors import ContractError

ISO_DATE = r"^\d{4}-\d{2}-\d{2}([T ]00:00(:00(\.0+)?)?(Z|[+-]00(:?00)?)?)?$"
ISO_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?\s*(Z|[+-]\d{2}(:?\d{2})?)?$"


@dataclass(frozen=True)
class Source:
    """One raw table file: where it is, its format, and the column types DuckDB saw."""

    table: Table
    path: Path
    format: str  # "csv" or "parquet"
    types: dict[str, str]  # column name -> DuckDB type of the raw column
    reader: str  # the table function call that reads the file, e.g. read_csv(...)

    @property
    def numbered(self) -> str:
        """The file's rows with `__row`, their 1-based position in the file, as a subquery."""
        return f"(SELECT row_number() OVER () AS __row, * FROM {self.reader})"

    @property
    def file(self) -> str:
        """The file name, as messages name it."""
        return self.path.name

    def where(self, row: int) -> str:
        """How a message points at a data row (1-based): CSV line or Parquet row."""
        return f"line {row + 1}" if self.format == "csv" else f"row {row}"


def find_file(raw_dir: Path, table: Table) -> Path | None:
    """The CSV or Parquet file of `table` in `raw_dir`; an error when both exist."""
    found = [raw_dir / f"{table.name}.{ext}" for ext in ("csv", "parquet")]
    present = [p for p in found if p.is_file()]
    if len(present) == 2:
        raise ContractError(
            f"{table.name}.csv", None, f"both {table.name}.csv and {table.name}.parquet exist"
        )
    if not present and table.required:
        raise ContractError(
            f"{table.name}.csv",
            None,
            f"required table is missing (no {table.name}.csv or {table.name}.parquet in {raw_dir})",
        )
    return present[0] if present else None


def open_source(con: duckdb.DuckDBPyConnection, table: Table, path: Path) -> Source:
    """Describe a raw file (its format, reader and column types) without copying it.

    A CSV's columns are its header's, all text; a Parquet file's are described by DuckDB.
    """
    if path.suffix != ".parquet":
        columns = header_columns(path)
        return Source(
            table, path, "csv", dict.fromkeys(columns, "VARCHAR"), reader_sql(path, columns)
        )
    quoted = str(path).replace("'", "''")
    source = Source(table, path, "parquet", {}, f"read_parquet('{quoted}')")
    with read_errors(source):
        described = con.execute(f"DESCRIBE SELECT * FROM {source.reader}").fetchall()
    types = {str(r[0]).strip(): str(r[1]) for r in described}
    return Source(table, path, "parquet", types, source.reader)


@contextmanager
def read_errors(source: Source) -> Iterator[None]:
    """Turn DuckDB's failure to read `source` into a ContractError naming the file.

    A conversion error is not a read error (the reader takes CSV values as text): it comes
    from typing a value and is left as it is.
    """
    try:
        yield
    except duckdb.ConversionException:
        raise
    except duckdb.Error as err:
        first = str(err).splitlines()[0]
        raise ContractError(
            source.file, None, f"cannot be read as {source.format.upper()}: {first}"
        ) from None


def _col(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def text_expr(column: str) -> str:
    """The raw value as trimmed text, NULL when empty."""
    return f"NULLIF(TRIM(CAST({_col(column)} AS VARCHAR)), '')"


def typed_expr(column: Column, raw_type: str | None, text: str | None = None) -> str:
    """SQL giving the column's contract-typed value, NULL where missing or unparsable.

    A whole number stays a DOUBLE here, so that one far outside its range (`1e12`) meets its
    range rule instead of failing a cast; the copy out casts it once the range has held.
    `text` is SQL of the value's `text_expr`, when a query has it already.
    """
    kind = column.kind
    if raw_type is None:
        return f"CAST(NULL AS {sql_type(kind)})"
    text = text or text_expr(column.name)
    native = raw_type.upper()
    name = _col(column.name)
    if kind is Kind.STRING:
        return text
    if kind is Kind.NUMBER:
        return f"TRY_CAST({text} AS DOUBLE)"
    if kind is Kind.INTEGER:
        return f"CASE WHEN {_whole(text)} THEN TRY_CAST({text} AS DOUBLE) END"
    if kind is Kind.DATE:
        if native == "DATE":
            return name
        if native.startswith("TIMESTAMP"):
            return f"CAST({name} AS DATE)"
        iso = f"regexp_matches({text}, '{ISO_DATE}')"
        return f"CASE WHEN {iso} THEN TRY_CAST(left({text}, 10) AS DATE) END"
    if native in ("TIMESTAMP WITH TIME ZONE", "TIMESTAMPTZ"):
        return name
    if native.startswith("TIMESTAMP") or native == "DATE":
        return f"CAST({name} AS TIMESTAMPTZ)"  # naive means UTC; the session zone is UTC
    iso = f"regexp_matches({text}, '{ISO_TIMESTAMP}')"
    return f"CASE WHEN {iso} THEN TRY_CAST({text} AS TIMESTAMPTZ) END"


def shown_expr(column: Column) -> str:
    """SQL of a typed value as a message quotes it (a whole number without `.0`)."""
    if column.kind is Kind.INTEGER:
        return f"format('{{:.15g}}', {_col(column.name)})"
    return f"CAST({_col(column.name)} AS VARCHAR)"


def _whole(text: str) -> str:
    value = f"TRY_CAST({text} AS DOUBLE)"
    return f"({value} IS NOT NULL AND isfinite({value}) AND {value} = floor({value}))"


def bad_value_expr(
    column: Column, raw_type: str | None, text: str | None = None, typed: str | None = None
) -> str:
    """SQL that is true where a value is present but does not parse as the contract type.

    `text` and `typed` are SQL of the value's `text_expr` and `typed_expr`, when a query has
    them already.
    """
    if raw_type is None or column.kind is Kind.STRING:
        return "false"
    text = text or text_expr(column.name)
    typed = typed or typed_expr(column, raw_type, text)
    extra = ""
    if column.kind is Kind.NUMBER:
        extra = f" OR NOT isfinite({typed})"
    return f"({text} IS NOT NULL AND ({typed} IS NULL{extra}))"


def sql_type(kind: Kind) -> str:
    """The DuckDB type of a contract kind in the typed copies."""
    return {
        Kind.STRING: "VARCHAR",
        Kind.DATE: "DATE",
        Kind.TIMESTAMP: "TIMESTAMPTZ",
        Kind.NUMBER: "DOUBLE",
        Kind.INTEGER: "INTEGER",
    }[kind]


RULE_FOR_KIND = {
    Kind.DATE: "not an ISO 8601 date (YYYY-MM-DD)",
    Kind.TIMESTAMP: "not an ISO 8601 timestamp",
    Kind.NUMBER: "not a number",
    Kind.INTEGER: "not a whole number",
}
