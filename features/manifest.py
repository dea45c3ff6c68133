"""The feature manifest: what each column means, for training, the weekly report and the API."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal

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
) -> dict[str, Any]:
    """The `manifest.json` mapping (Interface B)."""
    return {
        "id_columns": list(ID_COLUMNS),
        "label": LABEL,
        "extra_columns": list(EXTRA_COLUMNS),
        "features": [asdict(f) for f in features],
        "missing_sources": list(missing_sources),
        "export_date": export_date.isoformat(),
        "horizon_days": horizon_days,
        "grace_gap_days": grace_gap_days,
        "frequency": frequency,
        "event_types": list(event_types),
        "snapshot_dates": {
            "first": snapshot_dates[0].isoformat() if snapshot_dates else None,
            "last": snapshot_dates[-1].isoformat() if snapshot_dates else None,
            "count": len(snapshot_dates),
        },
        "rows": rows,
        "labeled_rows": labeled_rows,
    }
