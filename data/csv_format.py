"""The CSV format of the contract, and errors that name the lines breaking it.

A CSV table is UTF-8 text as RFC 4180 has it: a header line naming the columns, fields split
by commas, a field holding a comma, quote or line break wrapped in double quotes, and a quote
inside one doubled. The format is fixed rather than sniffed, so a broken line is refused
instead of read under a dialect guessed around it (a stray quote taken as text, a row with an
extra field taken as another delimiter), and no pass over the file is spent guessing. A read
stops at the first broken line; only then is the file read again, keeping DuckDB's record of
each broken line, to name them all with the rule they break.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import duckdb

from data.errors import ContractError

EXAMPLES = 5
MAX_LINE_BYTES = 2_097_152  # DuckDB's default, set so that the message can quote it
_HEADER_BYTES = 1 << 20
_SHOWN_CHARS = 40
_QUOTE_RULE = "a quoted value must end with a quote right before a comma or the line end"


def header_columns(path: Path) -> list[str]:
    """The column names of a CSV's header line, trimmed."""
    with path.open("rb") as file:
        line = file.readline(_HEADER_BYTES)
    if not line:
        raise ContractError(path.name, None, "has no header row (the file is empty)")
    try:
        text = line.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ContractError(
            path.name, None, "the header (line 1) is not valid UTF-8 text"
        ) from None
    try:
        fields = next(csv.reader([text], strict=True), [])
    except csv.Error:
        rule = f"the header (line 1): {_QUOTE_RULE}"
        raise ContractError(path.name, None, rule) from None
    if not fields:
        raise ContractError(path.name, None, "has no header row (line 1 is blank)")
    names = [name.strip() or f"column{i}" for i, name in enumerate(fields)]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise ContractError(path.name, name, "appears twice in the header")
    return names


def reader_sql(path: Path, columns: Sequence[str], rejects: str | None = None) -> str:
    """The `read_csv` call reading `path` in the contract's format, every column as text.

    With `rejects`, broken lines are skipped and recorded in the temporary table of that name.
    """
    names = ", ".join(f"{_literal(c)}: 'VARCHAR'" for c in columns)
    kept = (
        f", store_rejects = true, rejects_table = '{rejects}', rejects_scan = '{rejects}_scans'"
        if rejects
        else ""
    )
    return (
        f"read_csv({_literal(str(path))}, header = true, auto_detect = false, "
        f"columns = {{{names}}}, delim = ',', quote = '\"', escape = '\"', "
        f"strict_mode = true, null_padding = false, max_line_size = {MAX_LINE_BYTES}{kept})"
    )


def broken_lines(
    con: duckdb.DuckDBPyConnection, path: Path, columns: Sequence[str], table: str
) -> ContractError | None:
    """The error naming the broken lines of a CSV whose read failed; None if none is found.

    The rule is that of the first broken line; the count and examples are the lines breaking
    the same rule. DuckDB keeps every broken line; they are counted in SQL, and only the
    first few reach Python.
    """
    rejects = f"rejects_{table}"
    try:
        con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {rejects}_scans")
        # Every column is counted: DuckDB checks the encoding only of the columns it reads.
        reader = reader_sql(path, columns, rejects)
        con.execute(f"SELECT count(COLUMNS(*)) FROM {reader}").fetchall()
        first = con.execute(
            f"SELECT error_type, column_name FROM {rejects} ORDER BY line LIMIT 1"
        ).fetchone()
        if first is None:
            return None
        kind, column = str(first[0]), first[1]
        kinds = _FIELD_COUNT if kind in _FIELD_COUNT else (kind,)
        same = f"FROM {rejects} WHERE error_type IN ({', '.join(map(_literal, kinds))})"
        count = con.execute(f"SELECT count(DISTINCT line) {same}").fetchone()
        shown = con.execute(
            f"SELECT line, min(CAST(error_type AS VARCHAR)), min(left(csv_line, 10000)) {same} "
            f"GROUP BY line ORDER BY line LIMIT {EXAMPLES}"
        ).fetchall()
    except duckdb.Error:
        return None
    examples = [_example(int(line), error_type, text or "") for line, error_type, text in shown]
    rule = _rule(kind, len(columns))
    column = None if kind in _FIELD_COUNT else column
    return ContractError(path.name, column, rule, int(count[0]) if count else 0, examples)


_FIELD_COUNT = ("TOO MANY COLUMNS", "MISSING COLUMNS")


def _rule(error_type: str, width: int) -> str:
    """The contract's words for one of DuckDB's CSV error types."""
    if error_type in _FIELD_COUNT:
        return f"a row must have as many fields as the header ({width})"
    return {
        "UNQUOTED VALUE": _QUOTE_RULE,
        "INVALID ENCODING": "not valid UTF-8 text",
        "LINE SIZE OVER MAXIMUM": f"a row must be at most {MAX_LINE_BYTES:,} bytes long",
    }.get(error_type, f"cannot be read as CSV ({error_type.lower()})")


def _example(line: int, error_type: str, text: str) -> str:
    """How a message shows one broken line: its number and what is wrong with it."""
    text = text.lstrip("\r\n")
    if error_type in _FIELD_COUNT:
        try:
            n = len(next(csv.reader(io.StringIO(text))))
        except (csv.Error, StopIteration):
            return f"line {line}"
        return f"line {line}: {n} field{'s' if n != 1 else ''}"
    if error_type == "UNQUOTED VALUE":
        first = text.splitlines()[0] if text else ""
        cut = first[:_SHOWN_CHARS] + ("..." if len(first) > _SHOWN_CHARS else "")
        return f"line {line}: '{cut}'"
    return f"line {line}"  # an encoding error: the text is not worth quoting


def _literal(text: str) -> str:
    """A SQL string literal."""
    return "'" + text.replace("'", "''") + "'"
