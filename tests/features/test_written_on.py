"""A past week's features do not depend on when, or how, the export was written.

The demo world is written twice: in full, and as the same export pulled on an earlier Monday
T (nothing dated on or after T, tickets closed later still open, running periods billed to
the end they had when they began or left open, early ends and plan changes after T not yet
rewritten). Every feature of every week up to T must read the same from both; the export
written on T is built on DuckDB, and on Spark too.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
import pytest

from data.contract import RunningPeriods
from data.params import BaseParams, ValidateParams
from data.stages import generate, validate
from features.manifest import Manifest
from features.params import FeaturesParams
from features.stages import features

ACCOUNTS = 250
SEED = 11
WRITTEN_ON = dt.date(2025, 9, 1)  # a Monday, 16 months into the demo world's 30
KEYS = ["account_id", "as_of", "life"]


def _build(
    raw: Path, out: Path, export_date: dt.date | None, engine: str
) -> tuple[pd.DataFrame, dict]:
    base = BaseParams(export_date=export_date)
    validate(raw, out / "validated", base, ValidateParams())
    params = FeaturesParams(threads=1, engine=engine, spark={"master": "local[2]"})
    features(out / "validated", out / "features", base, params)
    manifest = Manifest.load(out / "features" / "manifest.json")
    return pd.read_parquet(out / "features" / "snapshots.parquet"), manifest


def _rewritten_after(full: Path, then: Path) -> int:
    """Subscription rows running on T whose end the full export shows differently."""
    read = {
        name: pd.read_csv(folder / "raw" / "subscriptions.csv", dtype=str)
        for name, folder in (("full", full), ("then", then))
    }
    on = ["account_id", "start_date", "plan"]
    both = read["then"].merge(read["full"], on=on, suffixes=("_then", "_full"))
    running = both["start_date"] < WRITTEN_ON.isoformat()
    differs = both["end_date_then"].fillna("") != both["end_date_full"].fillna("")
    return int((running & differs).sum())


@pytest.mark.slow
@pytest.mark.parametrize(
    ("style", "engine"),
    [(style, "duckdb") for style in RunningPeriods] + [(RunningPeriods.MIXED, "spark")],
)
def test_every_feature_of_every_week_up_to_t_reads_the_same(
    style, engine, tmp_path, cells_differ, assert_same_tables
) -> None:
    generate(tmp_path / "full", ACCOUNTS, SEED, style, None)
    generate(tmp_path / "then", ACCOUNTS, SEED, style, WRITTEN_ON)
    # The export pulled on T shows running periods differently from the full one (open, or
    # billed to an end that was later rewritten or filled in): otherwise this tests nothing.
    assert _rewritten_after(tmp_path / "full", tmp_path / "then") > 0

    # The full export on DuckDB; the one written on T on the engine under test. On Spark its
    # table is first checked against DuckDB's, cell by cell (a second world beside
    # test_spark.py's), then against the full export's weeks as on DuckDB.
    full, full_manifest = _build(tmp_path / "full" / "raw", tmp_path / "full-out", None, "duckdb")
    then, manifest = _build(tmp_path / "then" / "raw", tmp_path / "then-out", WRITTEN_ON, engine)
    if engine == "spark":
        duck = _build(tmp_path / "then" / "raw", tmp_path / "then-duck", WRITTEN_ON, "duckdb")
        assert_same_tables(then, duck[0])
    names = manifest.feature_names
    assert set(names) <= set(full_manifest.feature_names)
    assert pd.to_datetime(then["as_of"]).max() == pd.Timestamp(WRITTEN_ON)

    merged = then.merge(full, on=KEYS, how="left", suffixes=("", "_full"), indicator=True)
    assert (merged["_merge"] == "both").all(), merged.loc[merged["_merge"] != "both", KEYS]
    assert len(merged) > 5_000
    for name in names:
        differ = cells_differ(merged[name], merged[f"{name}_full"])
        assert not differ.any(), (
            f"{style}: {name} differs on {differ.sum()} rows, e.g.\n"
            f"{merged.loc[differ, [*KEYS, name, f'{name}_full']].head(3)}"
        )

    # The rolling backtest trains on today's rows whose label was known on T: they must be the
    # rows, features and labels a run on the export written on T would have learned from.
    from training.frames import known_on, labeled

    learned = labeled(then, manifest)
    replayed = known_on(labeled(full, full_manifest), WRITTEN_ON, full_manifest)
    assert len(learned) > 2_000
    pair = learned.merge(replayed, on=KEYS, how="outer", suffixes=("", "_full"), indicator=True)
    assert (pair["_merge"] == "both").all(), pair.loc[pair["_merge"] != "both", KEYS].head()
    assert (pair["churned"] == pair["churned_full"]).all()
