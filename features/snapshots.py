"""The `features` stage's output (snapshots.parquet, manifest.json), read as every stage does."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

from data.errors import ContractError
from features.manifest import Manifest

SNAPSHOTS = "snapshots.parquet"
MANIFEST = "manifest.json"


def read_features(features_dir: Path) -> tuple[pd.DataFrame, Manifest, str]:
    """Snapshots, manifest, and a digest of both (the exact feature table trained on)."""
    snapshots_path = Path(features_dir) / SNAPSHOTS
    manifest_path = Path(features_dir) / MANIFEST
    for path in (snapshots_path, manifest_path):
        if not path.exists():
            raise ContractError(str(path), None, "missing: run `churn features` first")
    digest = hashlib.sha256()
    for path in (snapshots_path, manifest_path):
        with path.open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    snapshots = pd.read_parquet(snapshots_path)
    snapshots["as_of"] = pd.to_datetime(snapshots["as_of"]).dt.date
    return snapshots, Manifest.load(manifest_path), digest.hexdigest()
