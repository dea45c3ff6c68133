"""End to end: a generated world through `validate` and `features`."""

import json
from pathlib import Path

import pandas as pd

from data.contract import TABLES


def test_validate_writes_every_generated_table_and_a_report(validated: Path) -> None:
    report = json.loads((validated / "report.json").read_text())
    assert report["missing_sources"] == []
    for name, table in TABLES.items():
        frame = pd.read_parquet(validated / f"{name}.parquet")
        assert list(frame.columns) == [c.name for c in table.columns]
        assert len(frame) == report["tables"][name]["rows"] > 0
    assert report["tables"]["usage_events"]["duplicates"] > 0
    assert pd.Timestamp(report["export_date"]) > pd.Timestamp(report["date_range"]["end"])


def test_features_label_every_active_account_each_monday(featured: Path) -> None:
    out = featured
    snaps = pd.read_parquet(out / "snapshots.parquet")
    manifest = json.loads((out / "manifest.json").read_text())

    assert not snaps.duplicated(["account_id", "as_of", "life"]).any()
    assert (pd.to_datetime(snaps["as_of"]).dt.day_of_week == 0).all()
    names = [f["name"] for f in manifest["features"]]
    assert set(names) <= set(snaps.columns)
    assert {f["source"] for f in manifest["features"]} >= {
        "usage",
        "tickets",
        "contacts",
        "rating",
        "account",
    }
    assert all(f["description"] for f in manifest["features"])
    labeled = snaps["churned"].dropna()
    assert manifest["labeled_rows"] == len(labeled)
    # A realistic book: some churn, mostly not.
    assert 0.02 < labeled.mean() < 0.5
    # The newest weeks cannot be labeled yet: they are what the weekly run scores.
    last = snaps["as_of"].max()
    assert snaps.loc[snaps["as_of"] == last, "churned"].isna().all()
