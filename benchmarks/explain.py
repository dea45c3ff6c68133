"""Explanation speed: TreeSHAP contributions and reason sentences, rows per second.

    .venv/bin/python benchmarks/explain.py                       # after `make demo`
    .venv/bin/python benchmarks/explain.py --rows 200000 --repeats 5

Reads the trained model and the feature table from `outputs/`, replicates the latest weeks'
rows up to `--rows`, and times `explain_batches` (contributions only) and `reason_frame`
(sentences) separately; prints the median of `--repeats` runs and the peak memory.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import pandas as pd
import psutil

from evaluation.explain import explain_batches, reason_frame
from features.manifest import Manifest
from training.bundle import load_model


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", type=Path, default=Path("outputs/features"))
    parser.add_argument("--train", type=Path, default=Path("outputs/train"))
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    args = parser.parse_args()
    model, _ = load_model(args.train / "model")
    manifest = Manifest.load(args.features / "manifest.json")
    snapshots = pd.read_parquet(args.features / "snapshots.parquet")
    recent = snapshots[snapshots["as_of"] >= sorted(snapshots["as_of"].unique())[-13]]
    rows = pd.concat([recent] * (args.rows // len(recent) + 1), ignore_index=True)
    rows = rows.head(args.rows)
    shap_times, reason_times = [], []
    for _ in range(args.repeats):
        started = time.perf_counter()
        explained = explain_batches(model, rows, args.batch_rows)
        shap_times.append(time.perf_counter() - started)
        started = time.perf_counter()
        reason_frame(explained, rows, manifest)
        reason_times.append(time.perf_counter() - started)
    shap_s, reason_s = statistics.median(shap_times), statistics.median(reason_times)
    peak = psutil.Process().memory_info().rss / 2**30
    print(f"rows: {len(rows):,} ({len(model.features)} features), median of {args.repeats} runs")
    print(f"TreeSHAP contributions: {shap_s:.2f} s  {len(rows) / shap_s:,.0f} rows/s")
    print(f"reason sentences:       {reason_s:.2f} s  {len(rows) / reason_s:,.0f} rows/s")
    total = shap_s + reason_s
    print(f"both:                   {total:.2f} s  {len(rows) / total:,.0f} rows/s")
    print(f"resident memory at the end: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
