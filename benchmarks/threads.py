"""One LightGBM fit of the demo's size with OpenMP threads spinning, passive, or one thread.

    .venv/bin/python benchmarks/threads.py [--rows 60000] [--repeat 3]

Each setting runs in a fresh process (OpenMP reads OMP_WAIT_POLICY when it loads), in turn,
`--repeat` times; prints the median seconds of each and the ratio to passive. Run it while
the machine is busy (another fit, the test suite) as well as idle: spinning threads only hurt
when other processes want the cores.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys

FIT = """
import time, numpy as np, pandas as pd
from training.model import BoostedTrees
rng = np.random.default_rng(0)
rows = {rows}
X = pd.DataFrame(rng.normal(size=(rows, 60)), columns=[f"f{{i}}" for i in range(60)])
y = (rng.random(rows) < 1 / (1 + np.exp(-X["f0"] - 0.5 * X["f1"] + 2))).astype(int)
params = {{"learning_rate": 0.05, "num_leaves": 15, "min_child_samples": 100,
          "n_estimators": 100{jobs}}}
started = time.perf_counter()
BoostedTrees(list(X.columns), [], params).fit(X, y)
print(time.perf_counter() - started)
"""
SETTINGS = {
    "spinning": ("ACTIVE", ""),
    "passive": ("PASSIVE", ""),
    "one thread": ("", ", 'n_jobs': 1"),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=60000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    seconds: dict[str, list[float]] = {name: [] for name in SETTINGS}
    for _ in range(args.repeat):
        for name, (policy, jobs) in SETTINGS.items():
            env = os.environ | {"OMP_WAIT_POLICY": policy or "PASSIVE"}
            code = FIT.format(rows=args.rows, jobs=jobs)
            out = subprocess.run(
                [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
            )
            seconds[name].append(float(out.stdout.strip().splitlines()[-1]))
    passive = statistics.median(seconds["passive"])
    print(
        f"{args.rows} rows x 60 features, 100 trees, median of {args.repeat} "
        f"(load {os.getloadavg()[0]:.1f}):"
    )
    for name, values in seconds.items():
        median = statistics.median(values)
        print(
            f"  {name:<11} {median:7.2f} s  ({median / passive:.2f} x passive)  "
            f"runs {[round(v, 1) for v in values]}"
        )


if __name__ == "__main__":
    main()
