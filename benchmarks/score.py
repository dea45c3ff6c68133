"""Weekly scoring speed: score and explain 100,000 accounts, with reasons and movers.

    .venv/bin/python benchmarks/score.py                 # after `make demo`
    .venv/bin/python benchmarks/score.py --accounts 100000 --work /tmp/score-bench

The demo world's last two weekly snapshots are replicated (fresh account ids) up to
`--accounts` rows a week and written as a feature folder; then the `score` stage runs on it
end to end (read, explain both weeks, reasons, movers, Parquet + CSV + summary, atomic
swap) with the trained model. Prints wall time and peak memory of that run (a child process,
so the peak is the stage's own).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd


def build(features: Path, out: Path, accounts: int) -> None:
    snaps = pd.read_parquet(features / "snapshots.parquet")
    dates = sorted(snaps["as_of"].unique())[-2:]
    weeks = snaps[snaps["as_of"].isin(dates)]
    latest = weeks[weeks["as_of"] == dates[-1]]
    copies = -(-accounts // len(latest))
    parts = []
    for i in range(copies):
        part = weeks.copy()
        part["account_id"] = part["account_id"].astype(str) + f"-r{i:03d}"
        parts.append(part)
    big = pd.concat(parts, ignore_index=True)
    keep = big.loc[big["as_of"] == dates[-1], "account_id"].head(accounts)
    big = big[big["account_id"].isin(set(keep))]
    out.mkdir(parents=True, exist_ok=True)
    big.to_parquet(out / "snapshots.parquet", index=False)
    shutil.copy(features / "manifest.json", out / "manifest.json")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--features", type=Path, default=Path("outputs/features"))
    parser.add_argument("--train", type=Path, default=Path("outputs/train"))
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--work", type=Path, default=Path("outputs/benchmarks/score"))
    args = parser.parse_args()
    features = args.work / "features"
    build(args.features, features, args.accounts)
    code = (
        "import sys, logging; from pathlib import Path; "
        "from data.params import BaseParams; from serving.params import ScoreParams; "
        "from serving.stages import score; logging.basicConfig(level=logging.INFO); "
        "score(Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), BaseParams(), "
        "ScoreParams(model='train'))"
    )
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, str(features), str(args.train), str(args.work / "score")],
        check=True,
    )
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    summary = json.loads((args.work / "score" / "latest" / "summary.json").read_text())
    print(f"accounts scored: {summary['accounts']:,} (with reasons, movers against last week)")
    print(f"wall time: {seconds:.1f} s ({summary['accounts'] / seconds:,.0f} accounts/s)")
    print(f"peak memory: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
