"""The feature manifest: one typed document, written and read with the same JSON layout."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from features.manifest import EXTRA_COLUMNS, ID_COLUMNS, LABEL, Feature, Manifest, build_manifest

LOGINS = Feature("usage_logins_30d", "float", "usage", "30d", "logins", "Logins, last 30 days")
SEGMENT = Feature("account_segment", "category", "account", None, "", "Segment")


def _built() -> Manifest:
    return build_manifest(
        [LOGINS, SEGMENT],
        missing_sources=["tickets"],
        export_date=dt.date(2024, 4, 1),
        horizon_days=90,
        grace_gap_days=30,
        frequency="W-MON",
        event_types=["export"],
        snapshot_dates=[dt.date(2024, 1, 1), dt.date(2024, 1, 8)],
        rows=10,
        labeled_rows=4,
        features_left_out={"tickets_open_now": "tickets.closed_at is not in the export"},
    )


def test_the_saved_manifest_keeps_the_interface_b_layout(tmp_path: Path) -> None:
    _built().save(tmp_path / "manifest.json")
    raw = json.loads((tmp_path / "manifest.json").read_text())
    assert list(raw) == [
        "id_columns",
        "label",
        "extra_columns",
        "features",
        "missing_sources",
        "export_date",
        "horizon_days",
        "grace_gap_days",
        "frequency",
        "event_types",
        "snapshot_dates",
        "rows",
        "labeled_rows",
        "features_left_out",
    ]
    assert raw["id_columns"] == list(ID_COLUMNS) and raw["label"] == LABEL
    assert raw["extra_columns"] == list(EXTRA_COLUMNS)
    assert raw["export_date"] == "2024-04-01"
    assert raw["snapshot_dates"] == {"first": "2024-01-01", "last": "2024-01-08", "count": 2}
    assert raw["features"][0] == {
        "name": "usage_logins_30d",
        "dtype": "float",
        "source": "usage",
        "window": "30d",
        "unit": "logins",
        "description": "Logins, last 30 days",
        "event_type": None,
    }
    assert Manifest.load(tmp_path / "manifest.json") == _built()


def test_readers_ask_the_manifest_not_its_keys() -> None:
    manifest = _built()
    assert manifest.feature_names == ["usage_logins_30d", "account_segment"]
    assert manifest.categorical == ["account_segment"]
    assert manifest.descriptions()["account_segment"] == "Segment"
    assert manifest.entries()["usage_logins_30d"]["window"] == "30d"


def test_an_older_manifest_without_later_keys_loads_with_the_defaults_readers_assumed(
    tmp_path: Path,
) -> None:
    old = {"features": [], "export_date": "2024-04-01", "horizon_days": 90}
    (tmp_path / "manifest.json").write_text(json.dumps(old))
    manifest = Manifest.load(tmp_path / "manifest.json")
    assert manifest.grace_gap_days == 0
    assert manifest.snapshot_dates.first is None
    assert manifest.features_left_out == {}
