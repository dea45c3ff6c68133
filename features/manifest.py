"""The feature manifest: what each column means, for training, the weekly report and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from data.io import read_json, write_json

ID_COLUMNS = ("account_id", "as_of", "life")
LABEL = "churned"
# Not features: context the report and the scores carry (`account_name`: the export's
# display name, never read by the model).
EXTRA_COLUMNS = ("churn_date", "csm_id", "segment", "mrr", "account_name")


@dataclass(frozen=True)
class Feature:
    """One feature column and a line a manager understands."""

    name: str
    dtype: Literal["float", "int", "bool", "category"]
    source: str
    window: str | None
    unit: str
    description: str
    event_type: str | None = None  # the event type a per-type usage count counts


class SnapshotDates(BaseModel):
    """The first and last snapshot dates and how many there are."""

    model_config = ConfigDict(frozen=True)

    first: dt.date | None = None
    last: dt.date | None = None
    count: int = 0


class Manifest(BaseModel):
    """`manifest.json` (Interface B): the feature table's columns and how it was built.

    `features` holds one JSON object per feature column (`Feature`'s fields), as every reader
    and the model's own copy (`feature_manifest` in `model.json`) take them. Fields added
    since older manifests default to what their readers assumed when a key was absent.
    """

    model_config = ConfigDict(frozen=True, extra="allow")

    id_columns: list[str] = list(ID_COLUMNS)
    label: str = LABEL
    extra_columns: list[str] = list(EXTRA_COLUMNS)
    features: list[dict[str, Any]]
    missing_sources: list[str] = []
    export_date: dt.date
    horizon_days: int
    grace_gap_days: int = 0
    frequency: str = "W-MON"
    event_types: list[str] = []
    snapshot_dates: SnapshotDates = SnapshotDates()
    rows: int = 0
    labeled_rows: int = 0
    features_left_out: dict[str, Any] = {}

    @property
    def feature_names(self) -> list[str]:
        """Every feature column, in the table's order."""
        return [f["name"] for f in self.features]

    @property
    def categorical(self) -> list[str]:
        """The feature columns of dtype `category`."""
        return [f["name"] for f in self.features if f["dtype"] == "category"]

    def descriptions(self) -> dict[str, str]:
        """Each feature's description by its column name."""
        return {f["name"]: f["description"] for f in self.features}

    def entries(self) -> dict[str, dict[str, Any]]:
        """Each feature's entry by its column name."""
        return {f["name"]: f for f in self.features}

    def save(self, path: Path) -> None:
        """Write `manifest.json` (atomically)."""
        write_json(self.model_dump(mode="json"), path)

    @classmethod
    def load(cls, path: Path) -> Manifest:
        """Read a `manifest.json`."""
        return cls.model_validate(read_json(path))


def build_manifest(
    features: Sequence[Feature],
    *,
    missing_sources: Sequence[str],
    export_date: dt.date,
    horizon_days: int,
    grace_gap_days: int,
    frequency: str,
    event_types: Sequence[str],
    snapshot_dates: Sequence[dt.date],
    rows: int,
    labeled_rows: int,
    features_left_out: dict[str, Any],
) -> Manifest:
    """The manifest of a `features` run."""
    return Manifest(
        features=[asdict(f) for f in features],
        missing_sources=list(missing_sources),
        export_date=export_date,
        horizon_days=horizon_days,
        grace_gap_days=grace_gap_days,
        frequency=frequency,
        event_types=list(event_types),
        snapshot_dates=SnapshotDates(
            first=snapshot_dates[0] if snapshot_dates else None,
            last=snapshot_dates[-1] if snapshot_dates else None,
            count=len(snapshot_dates),
        ),
        rows=rows,
        labeled_rows=labeled_rows,
        features_left_out=features_left_out,
    )
