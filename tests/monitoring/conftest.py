"""A small demo world whose churn rate shifts, and a model trained before the shift.

The world is simulated once and written at the end of its data (the held-out outcomes).
The training export (written on TRAIN_DAY, before the shift shows in any final label) and
the monitor's export (MONITOR_DAY) are that feature table cut at their day, with their export
date: features are point in time (tests/features/test_written_on.py checks that an export
written on a day gives every earlier week's features exactly as the full export does), and
`training.frames.labeled` keeps only the labels final by the export date. That saves two
simulations of the world (a minute of the suite).
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest

from data.io import read_json, write_json
from data.params import BaseParams, ValidateParams
from data.stages import generate, validate

ACCOUNTS, SEED = 800, 11
SHIFT = "2025-09-01:3.0"  # from then on, three times the churn hazard
TRAIN_DAY = dt.date(2025, 10, 1)  # its labeled weeks end before 2025-06: untouched by the shift
MONITOR_DAY = dt.date(2026, 6, 1)  # labeled through ~2026-01: 20+ weeks after the shift
HELD_OUT_DAY = dt.date(2026, 11, 1)  # the end of the data: labeled through ~2026-07


@dataclass(frozen=True)
class ShiftedWorld:
    """Feature folders of the three exports and the folder to run the stages in."""

    train_features: Path
    monitor_features: Path
    held_out_features: Path
    root: Path


def export_features(root: Path, day: dt.date) -> Path:
    """The shifted world as written on `day`, validated and featured; its features folder."""
    from features.params import FeaturesParams
    from features.stages import features

    generate(root / "demo", ACCOUNTS, SEED, written_on=day, churn_shift=SHIFT)
    validate(root / "demo" / "raw", root / "validate", BaseParams(), ValidateParams())
    features(root / "validate", root / "features", BaseParams(), FeaturesParams())
    shutil.rmtree(root / "demo")
    return root / "features"


def cut_features(features_dir: Path, day: dt.date, out: Path) -> Path:
    """The feature table an export written on `day` gives: weeks before it, its export date."""
    snapshots = pd.read_parquet(features_dir / "snapshots.parquet")
    dates = pd.to_datetime(snapshots["as_of"]).dt.date
    out.mkdir(parents=True)
    snapshots[dates < day].to_parquet(out / "snapshots.parquet", index=False)
    manifest = read_json(features_dir / "manifest.json")
    manifest["export_date"] = day.isoformat()
    if manifest.get("snapshot_dates"):
        kept = sorted({d for d in dates if d < day})
        manifest["snapshot_dates"] |= {"last": str(kept[-1]), "count": len(kept)}
    write_json(manifest, out / "manifest.json")
    return out


@pytest.fixture(scope="session")
def shifted_world(tmp_path_factory: pytest.TempPathFactory) -> ShiftedWorld:
    root = tmp_path_factory.mktemp("shifted")
    held_out = export_features(root / "held_out_export", HELD_OUT_DAY)
    return ShiftedWorld(
        train_features=cut_features(held_out, TRAIN_DAY, root / "train_export"),
        monitor_features=cut_features(held_out, MONITOR_DAY, root / "monitor_export"),
        held_out_features=held_out,
        root=root,
    )
