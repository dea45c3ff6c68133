"""Typed `features:` section of params.yaml."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from data.params import Section


class SparkParams(Section):
    """Where the Spark engine runs, and where its data lives (`features.spark`).

    With none set it runs Spark in this process (local mode, every core); under
    `spark-submit` it takes the master spark-submit was given.
    """

    master: str | None = None  # e.g. local[4], yarn, k8s://...; None: local[*] or spark-submit's
    remote: str | None = None  # a Spark Connect URL (sc://host:15002) instead of a master
    conf: dict[str, str] = {}  # Spark settings (spark.executor.memory, ...)
    # Where the executors read the validated Parquet (s3a://lake/churn/validated): None reads
    # the stage's local --validated folder, which only a local session (or a shared disk) sees.
    validated: str | None = None
    # Where intermediate tables and the output's part files go (any Hadoop file system URI the
    # executors and this machine both reach); None: a local temporary folder.
    staging: str | None = None


class FeaturesParams(Section):
    """How snapshots and features are built."""

    # Which SQL engine runs the feature SQL: DuckDB in this process, or Apache Spark (the
    # same SQL translated: features/spark.py).
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark: SparkParams = SparkParams()

    frequency: str = "W-MON"  # pandas offset alias of the snapshot dates
    # Event types counted one by one; None: every type of the export, up to max_event_types
    # (past it, the most frequent: list them here so the choice never depends on the export).
    event_types: list[str] | None = None
    max_event_types: int = Field(20, ge=0)
    memory_limit: str = "3GB"  # DuckDB's own limit; the process peaks about 1 GiB above it
    threads: int | None = Field(None, ge=1)
    # Where the snapshot calendar starts: the first day every present source has rows for
    # (an export whose usage history begins later than its billing history would otherwise
    # read "never used" for years), or the first paid day.
    history_start: Literal["all_sources", "subscriptions"] = "all_sources"
