"""The contract's row-level rules of one table, counted in SQL over its typed DuckDB table.

`check_rules` counts every rule in one aggregate and raises a `ContractError` on the first
one broken (in the contract's order), naming file, column, rule, the number of rows that
break it and up to five of them, found by a second look only then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import duckdb

from data.contract import Column, Kind, Table
from data.errors import ContractError
from data.readers import (
    RULE_FOR_KIND,
    Source,
    bad_value_expr,
    read_errors,
    shown_expr,
    text_expr,
)

EXAMPLES = 5


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


def value_checks(src: Source) -> list[Check]:
    """Required values present, and every value parses as its contract type (raw values)."""
    rules = value_conditions(src, named=False)
    return [Check(column, rule, condition, typed=False) for column, rule, condition in rules]


def value_conditions(src: Source, named: bool) -> list[tuple[Column, str, str]]:
    """Column, rule and SQL condition of each value check, in the contract's order.

    `named`: the condition reads `__text_<column>` and `__typed_<column>`, the trimmed and
    typed values computed once by `data.typed_tables.read_typed`, instead of computing them again.
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


def bounds_checks(table: Table) -> list[Check]:
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


def check_rules(
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
        count_where(c.condition if c.typed else f"(__bad & {1 << flagged.index(c)}) <> 0")
        for c in counted
    ]
    orphan = count_where(orphan_condition(table))
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
        condition = orphan_condition(table)
        _raise_if_broken(con, src, Check(account, rule, condition, typed=True), orphans)
    return rows_in, orphans


def orphan_condition(table: Table) -> str:
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


def count_where(condition: str) -> str:
    """SQL counting the rows where `condition` is true (0, not NULL, when there are none)."""
    return f"count(*) FILTER (WHERE {condition})"
