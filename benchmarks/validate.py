"""Validate a large generated world: wall time, rows per second and peak memory.

Usage: python benchmarks/validate.py [--accounts 20000] [--workdir DIR] [--runs N]
The world is generated into DIR (kept between runs; pass the same DIR to reuse it); when it
is generated, its generation time and peak memory are printed too. With `--runs N` the
validation runs N times and the median wall time (and the largest peak) is reported, with
each run's figures. Peak memory is the highest resident set size of this process, DuckDB
included, sampled every 50 ms. CPU seconds (user + system, all threads) are printed too:
on a machine shared with other work they move less than wall time does.
Per-phase seconds (from the validator's debug log) are printed for tables over a second.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import psutil

from data.params import BaseParams, ValidateParams
from data.stages import generate, validate


class PeakRss:
    """Samples this process's resident memory in a background thread."""

    def __init__(self, every: float = 0.05) -> None:
        self.every, self.peak, self._stop = every, 0, threading.Event()
        self._proc = psutil.Process()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._proc.memory_info().rss)
            time.sleep(self.every)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class PhaseTimes(logging.Handler):
    """Collects the validator's per-phase timings (debug records with `phase` and `seconds`)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seconds: dict[str, dict[str, float]] = defaultdict(dict)

    def emit(self, record: logging.LogRecord) -> None:
        if hasattr(record, "phase"):
            self.seconds[record.table][record.phase] = record.seconds  # type: ignore[attr-defined]


def run_once(raw: Path, out: Path) -> dict[str, Any]:
    """Validate `raw` into `out` once: report, wall and CPU seconds, peak RSS, phase times."""
    phases = PhaseTimes()
    logger = logging.getLogger("data.validation")
    logger.addHandler(phases)
    logger.setLevel(logging.DEBUG)
    process = psutil.Process()
    try:
        with PeakRss() as memory:
            cpu = process.cpu_times()
            started = time.perf_counter()
            report = validate(raw, out, BaseParams(), ValidateParams())
            wall = time.perf_counter() - started
            after = process.cpu_times()
    finally:
        logger.removeHandler(phases)
    cpu_seconds = after.user + after.system - cpu.user - cpu.system
    return {
        "report": report,
        "wall": wall,
        "cpu": cpu_seconds,
        "peak": memory.peak,
        "phases": phases.seconds,
    }


def print_phases(phases: dict[str, dict[str, float]]) -> None:
    """Per-phase seconds of each table that took over a second in all."""
    for table, times in phases.items():
        if sum(times.values()) < 1:
            continue
        print(f"  {table}:")
        for phase, seconds in times.items():
            print(f"    {phase:<30} {seconds:7.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench")
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()
    world = args.workdir / f"world-{args.accounts}-{args.seed}"
    if not (world / "raw" / "accounts.csv").exists():
        print(f"generating {args.accounts} accounts into {world} ...", flush=True)
        with PeakRss() as memory:
            started = time.perf_counter()
            generate(world, n_accounts=args.accounts, seed=args.seed)
        print(
            f"generate:      {time.perf_counter() - started:.1f} s, "
            f"peak RSS {memory.peak / 2**30:.2f} GiB"
        )
    raw = world / "raw"
    size = sum(p.stat().st_size for p in raw.iterdir())
    out = args.workdir / f"validate-{args.accounts}-{args.seed}"
    runs = []
    for i in range(args.runs):
        runs.append(run_once(raw, out))
        run = runs[-1]
        print(
            f"run {i + 1}/{args.runs}:     wall {run['wall']:.1f} s, CPU {run['cpu']:.1f} s, "
            f"peak RSS {run['peak'] / 2**30:.2f} GiB",
            flush=True,
        )
        print_phases(run["phases"])
    report = runs[-1]["report"]
    wall = statistics.median(r["wall"] for r in runs)
    cpu = statistics.median(r["cpu"] for r in runs)
    peak = max(r["peak"] for r in runs)
    rows_in = sum(t["rows_in"] for t in report["tables"].values())
    usage = report["tables"]["usage_events"]
    print(
        f"export:        {size / 2**30:.2f} GiB of CSV, {rows_in:,} rows "
        f"({usage['rows_in']:,} usage rows)"
    )
    label = f"median of {len(runs)}" if len(runs) > 1 else "one run"
    print(f"wall time:     {wall:.1f} s ({label})")
    print(f"CPU time:      {cpu:.1f} s ({label}; user + system, all threads)")
    print(f"rows/second:   {rows_in / wall:,.0f}")
    limit = ValidateParams().memory_limit
    print(f"peak RSS:      {peak / 2**30:.2f} GiB (largest of the runs; memory_limit {limit})")
    print(f"usage dropped: {usage['duplicates']:,} duplicates, {usage['orphans']:,} orphans")


if __name__ == "__main__":
    main()
