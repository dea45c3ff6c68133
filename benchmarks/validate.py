"""Validate a large generated world: wall time, rows per second and peak memory.

Usage: python benchmarks/validate.py [--accounts 20000] [--workdir DIR]
The world is generated into DIR (kept between runs; pass the same DIR to reuse it); when it
is generated, its generation time and peak memory are printed too.
Peak memory is the highest resident set size of this process, DuckDB included, sampled
every 50 ms.
"""

from __future__ import annotations

import argparse
import tempfile
import threading
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--workdir", type=Path, default=Path(tempfile.gettempdir()) / "bench")
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
    with PeakRss() as memory:
        started = time.perf_counter()
        report = validate(raw, out, BaseParams(), ValidateParams())
        wall = time.perf_counter() - started
    rows_in = sum(t["rows_in"] for t in report["tables"].values())
    usage = report["tables"]["usage_events"]
    print(
        f"export:        {size / 2**30:.2f} GiB of CSV, {rows_in:,} rows "
        f"({usage['rows_in']:,} usage rows)"
    )
    print(f"wall time:     {wall:.1f} s")
    print(f"rows/second:   {rows_in / wall:,.0f}")
    limit = ValidateParams().memory_limit
    print(f"peak RSS:      {memory.peak / 2**30:.2f} GiB (DuckDB memory_limit {limit})")
    print(f"usage dropped: {usage['duplicates']:,} duplicates, {usage['orphans']:,} orphans")


if __name__ == "__main__":
    main()
