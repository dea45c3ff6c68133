"""Two pipeline output trees side by side: does a change keep every figure and every row?

A refactor should leave the outputs alone. Run the pipeline at the old and the new commit on
the same export with a deterministic budget (`train.tuning_minutes: 0`: Optuna's time budget
is the one thing that varies between runs), then

    uv run python benchmarks/same_outputs.py OLD/outputs NEW/outputs

It prints, per JSON document, "same" or the fields that differ (timestamps, run ids and model
versions are skipped), and per Parquet frame "same" or pandas' first difference (floats to
1e-9 relative). Exit code 1 if anything differs beyond the skipped fields.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path
from typing import Any

import pandas as pd

# Fields that say when or under which id a run happened, not what it found.
WHEN = {"seconds", "rows_per_second", "trained_at", "mlflow_run_id", "model_version"}
WHEN |= {"scored_at", "monitored_at", "run_id"}
DOCUMENTS = (
    "validate/report.json",
    "features/manifest.json",
    "train/metrics.json",
    "train/model/model.json",
    "train/production/model.json",
    "evaluate/metrics.json",
    "backtest/summary.json",
    "explain/summary.json",
    "compare/summary.json",
    "score/latest/summary.json",
    "monitor/summary.json",
)
FRAMES = (
    "features/snapshots.parquet",
    "train/calibration_predictions.parquet",
    "evaluate/predictions.parquet",
    "backtest/weeks.parquet",
    "explain/contributions.parquet",
    "explain/reasons.parquet",
    "compare/disagreements.parquet",
    "score/latest/scores.parquet",
)


def differences(old: Any, new: Any, path: str) -> list[str]:
    """Where two JSON values differ (floats to 1e-9 relative), skipping `WHEN` fields."""
    if isinstance(old, dict) and isinstance(new, dict):
        out: list[str] = []
        for key in sorted(set(old) | set(new)):
            if key in WHEN:
                continue
            if key not in old or key not in new:
                out.append(f"{path}.{key}: only in {'new' if key in new else 'old'}")
            else:
                out += differences(old[key], new[key], f"{path}.{key}")
        return out
    if isinstance(old, list) and isinstance(new, list):
        if len(old) != len(new):
            return [f"{path}: {len(old)} items vs {len(new)}"]
        return [
            d
            for i, pair in enumerate(zip(old, new, strict=True))
            for d in differences(*pair, f"{path}[{i}]")
        ]
    if isinstance(old, float) and isinstance(new, float):
        close = math.isclose(old, new, rel_tol=1e-9, abs_tol=1e-12)
        return [] if close or (math.isnan(old) and math.isnan(new)) else [f"{path}: {old} vs {new}"]
    return [] if old == new else [f"{path}: {str(old)[:80]} vs {str(new)[:80]}"]


def _both(args: argparse.Namespace, rel: str) -> tuple[Path, Path] | None:
    """The file `rel` in both trees; None (said) when one of them lacks it."""
    old, new = args.old / rel, args.new / rel
    if old.exists() and new.exists():
        return old, new
    print(f"{rel}: missing in {'old' if not old.exists() else 'new'}")
    return None


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("old", type=Path)
    parser.add_argument("new", type=Path)
    args = parser.parse_args()
    differ = False
    for rel in DOCUMENTS:
        if (pair := _both(args, rel)) is None:
            differ = True
            continue
        found = differences(json.loads(pair[0].read_text()), json.loads(pair[1].read_text()), rel)
        print(f"{rel}: {'same' if not found else f'{len(found)} differences'}")
        for line in found[:10]:
            print(f"    {line}")
        differ |= bool(found)
    for rel in FRAMES:
        if (pair := _both(args, rel)) is None:
            differ = True
            continue
        a, b = pd.read_parquet(pair[0]), pd.read_parquet(pair[1])
        try:
            pd.testing.assert_frame_equal(a, b, check_exact=False, rtol=1e-9, atol=1e-12)
            print(f"{rel}: same ({len(a):,} rows)")
        except AssertionError as err:
            print(f"{rel}: differs: {' '.join(str(err).split())[:300]}")
            differ = True
    return 1 if differ else 0


if __name__ == "__main__":
    raise SystemExit(main())
