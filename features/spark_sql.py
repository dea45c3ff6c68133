"""DuckDB SQL as Spark SQL: SQLGlot's translation, and rewrites where Spark has no equivalent.

The feature families write DuckDB SQL; `to_spark` turns one parsed statement into Spark SQL:

- An ASOF join (the row of the right side with the nearest key before, or after, the left
  row's) becomes a window over both sides' keys (`_asof_as_window`): Spark has no ASOF join.
  Its right side must be unique on the join's keys, as DuckDB's result is otherwise arbitrary.
- Functions DuckDB names differently: `epoch_us` -> `unix_micros`, `hash` -> `xxhash64` (a
  64-bit hash, as DuckDB's), `date_add(d, to_months(n))` -> `add_months(d, n)`.

An ASOF join of another shape is refused with NotImplementedError naming it; any other
construct SQLGlot cannot translate fails in Spark's parser with the statement in the error.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator

import sqlglot
from sqlglot import exp

READ, WRITE = "duckdb", "spark"


def _rename(node: exp.Expr) -> exp.Expr:
    """DuckDB functions that Spark spells differently."""
    if isinstance(node, exp.Anonymous):
        name = str(node.this).lower()
        if name == "epoch_us":
            return exp.Anonymous(this="UNIX_MICROS", expressions=node.expressions)
        if name == "hash":
            return exp.Anonymous(this="XXHASH64", expressions=node.expressions)
    if isinstance(node, exp.DateAdd):
        step = node.expression
        if isinstance(step, exp.Anonymous) and str(step.this).lower() == "to_months":
            return exp.Anonymous(this="ADD_MONTHS", expressions=[node.this, *step.expressions])
        if isinstance(step, exp.ToDays):
            days = exp.cast(step.this, exp.DataType.build("INT"))  # Spark's takes no BIGINT
            return exp.Anonymous(this="DATE_ADD", expressions=[node.this, days])
    return node


_FLIP: dict[type[exp.Expr], type[exp.Expr]] = {
    exp.GT: exp.LT,
    exp.GTE: exp.LTE,
    exp.LT: exp.GT,
    exp.LTE: exp.GTE,
}


def _conjuncts(condition: exp.Expr) -> list[exp.Expr]:
    if isinstance(condition, exp.And):
        return _conjuncts(condition.this) + _conjuncts(condition.expression)
    return [condition.unnest()]


def _asof_keys(join: exp.Join, left: str, right: str) -> tuple[str, str, str, str, type]:
    """(left key, right key, left time, right time, comparison as `left <op> right`)."""
    eq: tuple[str, str] | None = None
    order: tuple[str, str, type] | None = None
    for part in _conjuncts(join.args["on"]):
        a, b = part.this, part.expression
        if not (isinstance(a, exp.Column) and isinstance(b, exp.Column)):
            raise NotImplementedError(f"ASOF join on {part.sql(READ)}: columns only")
        kind: type[exp.Expr] = type(part)
        if a.table == right:
            a, b, kind = b, a, _FLIP.get(kind, kind)
        if (a.table, b.table) != (left, right):
            raise NotImplementedError(f"ASOF join on {part.sql(READ)}: qualify both sides")
        if kind is exp.EQ and eq is None:
            eq = (a.name, b.name)
        elif kind in _FLIP and order is None:
            order = (a.name, b.name, kind)
        else:
            raise NotImplementedError(f"ASOF join on {join.args['on'].sql(READ)}")
    if eq is None or order is None:
        raise NotImplementedError(f"ASOF join on {join.args['on'].sql(READ)}: one = and one <>")
    return eq[0], eq[1], order[0], order[1], order[2]


def _asof_as_window(select: exp.Expr, counter: Iterator[int]) -> exp.Expr:
    """Rewrite `FROM l ASOF [LEFT] JOIN r ON l.k = r.k AND l.t > r.s` (or >=, <, <=).

    Both sides' distinct (key, time) pairs are stacked; along each key, ordered by time, the
    last right-side time seen (`last_value ... IGNORE NULLS`) is the match of each left pair.
    Ties go to the right side first when the comparison admits equality. The left rows then
    join their match, and the match the right rows.
    """
    if not isinstance(select, exp.Select):
        return select
    joins = select.args.get("joins") or []
    for i, join in enumerate(joins):
        if str(join.args.get("method") or "").upper() != "ASOF":
            continue
        source = select.args["from_"].this
        if i or not isinstance(source, exp.Table) or not isinstance(join.this, exp.Table):
            raise NotImplementedError(f"ASOF join of {select.sql(READ)[:200]}: tables only")
        left, right = source.alias_or_name, join.this.alias_or_name
        lk, rk, lt, rt, kind = _asof_keys(join, left, right)
        before = kind in (exp.GT, exp.GTE)  # the right time is before the left one
        equal = kind in (exp.GTE, exp.LTE)
        lside, rside = (1, 0) if equal else (0, 1)
        m = f"__asof{next(counter)}"
        matches = sqlglot.parse_one(
            f"""SELECT k, t, s FROM (
                SELECT k, t, side, last_value(s IGNORE NULLS) OVER (PARTITION BY k
                    ORDER BY t {"ASC" if before else "DESC"}, side
                    ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS s
                FROM (SELECT DISTINCT {left}.{lk} AS k, {left}.{lt} AS t, {lside} AS side,
                             NULL AS s FROM {source.sql(READ)}
                      UNION ALL
                      SELECT DISTINCT {right}.{rk}, {right}.{rt}, {rside}, {right}.{rt}
                      FROM {join.this.sql(READ)}))
            WHERE side = {lside} AND s IS NOT NULL""",
            read=READ,
        )
        side = "LEFT " if str(join.args.get("side") or "").upper() == "LEFT" else ""
        pair = sqlglot.parse_one(
            f"SELECT * FROM x {side}JOIN ({matches.sql(READ)}) AS {m} "
            f"ON {left}.{lk} = {m}.k AND {left}.{lt} = {m}.t "
            f"{side}JOIN {join.this.sql(READ)} ON {right}.{rk} = {m}.k AND {right}.{rt} = {m}.s",
            read=READ,
        )
        select.set("joins", [*pair.args["joins"], *joins[i + 1 :]])
        return select
    return select


def to_spark(statement: exp.Expr) -> str:
    """One DuckDB statement's tree as Spark SQL."""
    counter = itertools.count()
    tree = statement.transform(lambda node: _asof_as_window(node, counter), copy=True)
    return tree.transform(_rename).sql(dialect=WRITE)
