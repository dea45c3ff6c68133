"""Risk API latency and throughput, beside `mlflow models serve` on the same champion.

    .venv/bin/python benchmarks/api.py                    # after `make demo`
    .venv/bin/python benchmarks/api.py --seconds 10 --concurrency 1 8 32

Starts `churn serve` (one uvicorn worker) and `mlflow models serve` (the registry's champion,
local environment) on loopback, then drives each with the same load generator: a small
asyncio client on raw keep-alive sockets (pre-encoded requests, so the client costs little
of the 2 cores), `--concurrency` connections for `--seconds` each. Prints p50, p99 and
requests per second for: lookup (GET /v1/accounts/{id}/risk), live predict of one row with
reasons (POST /v1/predict), and MLflow's POST /invocations of one row.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

KEY = "bench-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait(url: str, seconds: float = 120) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise RuntimeError(f"{url} did not come up")


def request(method: str, path: str, port: int, body: bytes = b"", headers: dict | None = None):
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}", "Connection: keep-alive"]
    for k, v in (headers or {}).items():
        lines.append(f"{k}: {v}")
    if body:
        lines += ["Content-Type: application/json", f"Content-Length: {len(body)}"]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


async def _worker(port: int, make: Callable[[], bytes], until: float, out: list, bad: list):
    """Send requests one after another on a keep-alive connection until `until`.

    A non-200 answer goes to `bad` as its status; a broken connection as 0, then it reconnects.
    """
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while time.perf_counter() < until:
            payload = make()
            started = time.perf_counter()
            try:
                writer.write(payload)
                head = await reader.readuntil(b"\r\n\r\n")
                status = int(head.split(b" ", 2)[1])
                length = 0
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":", 1)[1])
                await reader.readexactly(length)
            except (ConnectionError, asyncio.IncompleteReadError):
                bad.append(0)
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            out.append(time.perf_counter() - started)
            if status != 200:
                bad.append(status)
    finally:
        writer.close()


def drive(port: int, make: Callable[[], bytes], concurrency: int, seconds: float) -> dict:
    async def main() -> tuple[list, list]:
        out: list[float] = []
        bad: list[int] = []
        until = time.perf_counter() + seconds
        await asyncio.gather(*(_worker(port, make, until, out, bad) for _ in range(concurrency)))
        return out, bad

    started = time.perf_counter()
    latencies, bad = asyncio.run(main())
    wall = time.perf_counter() - started
    ms = np.array(latencies) * 1000
    return {
        "requests": len(ms),
        "errors": sum(1 for b in bad if b),  # non-200 answers
        "socket_errors": sum(1 for b in bad if not b),
        "p50_ms": float(np.percentile(ms, 50)),
        "p99_ms": float(np.percentile(ms, 99)),
        "rps": len(ms) / wall,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--outputs", type=Path, default=Path("outputs"))
    args = parser.parse_args()
    bin_dir = Path(sys.executable).parent
    scores = pd.read_parquet(args.outputs / "score" / "latest" / "scores.parquet")
    ids = scores["account_id"].tolist()
    meta = json.loads((args.outputs / "train" / "model" / "model.json").read_text())
    snaps = pd.read_parquet(args.outputs / "features" / "snapshots.parquet").tail(200)
    rows = [
        {k: (None if pd.isna(v) else (v.item() if hasattr(v, "item") else v)) for k, v in r.items()}
        for r in snaps[meta["features"]].astype(object).to_dict("records")
    ]
    api_port, mlflow_port = free_port(), free_port()
    env = os.environ | {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",  # mlflow starts uvicorn
        "CHURN_API_KEYS": KEY,
        "CHURN_WATCH_SECONDS": "0",
        "CHURN_SCORES_DIR": str(args.outputs / "score" / "latest"),
        "CHURN_TRAIN_DIR": str(args.outputs / "train"),
        "CHURN_MLFLOW_DIR": str(args.outputs / "mlflow"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{(args.outputs / 'mlflow' / 'mlflow.db').resolve()}",
    }
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    api = subprocess.Popen(
        [bin_dir / "churn", "serve", "--port", str(api_port), "--log-level", "warning"],
        env=env | {"PYTHONWARNINGS": "ignore"},
        **quiet,
    )
    served = subprocess.Popen(
        [
            bin_dir / "mlflow",
            "models",
            "serve",
            "-m",
            "models:/churn-risk@champion",
            "--env-manager",
            "local",
            "-p",
            str(mlflow_port),
            "-h",
            "127.0.0.1",
        ],
        env=env,
        **quiet,
    )
    try:
        wait(f"http://127.0.0.1:{api_port}/readyz")
        wait(f"http://127.0.0.1:{mlflow_port}/ping")
        auth = {"X-API-Key": KEY}
        lookups = [request("GET", f"/v1/accounts/{i}/risk", api_port, headers=auth) for i in ids]
        predicts = [
            request("POST", "/v1/predict", api_port, json.dumps({"rows": [r]}).encode(), auth)
            for r in rows
        ]
        invocations = [
            request(
                "POST",
                "/invocations",
                mlflow_port,
                json.dumps({"dataframe_records": [r]}).encode(),
            )
            for r in rows
        ]
        cases = {
            "lookup": (api_port, lookups),
            "predict 1 row (reasons)": (api_port, predicts),
            "mlflow /invocations 1 row": (mlflow_port, invocations),
        }
        rng = random.Random(0)
        print(f"{'case':28} {'conc':>4} {'requests':>9} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        results = {}
        for name, (port, pool) in cases.items():
            drive(port, lambda pool=pool: rng.choice(pool), 1, 1.0)  # warm up
            for c in args.concurrency:
                r = drive(port, lambda pool=pool: rng.choice(pool), c, args.seconds)
                results[(name, c)] = r
                print(
                    f"{name:28} {c:>4} {r['requests']:>9} {r['p50_ms']:>8.2f} "
                    f"{r['p99_ms']:>8.2f} {r['rps']:>8.0f}"
                    + (f"  errors {r['errors']}" if r["errors"] else "")
                )
        for c in args.concurrency:
            mlflow_rps = results[("mlflow /invocations 1 row", c)]["rps"]
            live = results[("predict 1 row (reasons)", c)]["rps"] / mlflow_rps
            lookup = results[("lookup", c)]["rps"] / mlflow_rps
            print(
                f"concurrency {c}: req/s against mlflow: lookup {lookup:.1f}x, predict {live:.1f}x"
            )
    finally:
        for proc in (api, served):
            proc.terminate()
            proc.wait(timeout=30)


if __name__ == "__main__":
    main()
