"""The risk API under load while it reloads, swaps weeks and fails a reload; and its start-up.

    uv run python benchmarks/api_faults.py                 # after `make demo`
    uv run python benchmarks/api_faults.py --seconds 60 --concurrency 8 --json faults.json

Starts `churn serve` (one uvicorn worker, loopback) on a throwaway scores folder holding two
real scored weeks of the demo (the latest, and the Monday before, scored here with the same
model), and drives account lookups at `--concurrency` keep-alive connections for `--seconds`
(the load generator of benchmarks/api.py). Meanwhile, on a second thread:

- an admin reload every `--reload-every` seconds (CHURN_RELOAD_MIN_SECONDS=0.5);
- at 1/4 of the run the `latest` link moves to the other week (the watcher, every second,
  and the next reload pick it up);
- at 1/2 `latest` points at an empty folder and an admin reload is sent: it must answer 503
  `reload_failed` while lookups keep being served from the old week; then the link is put
  back;
- at 3/4 the link moves back to the first week.

Prints lookups' p50/p99, requests per second and the count of non-2xx answers and socket
errors (the goal: 0 and 0), every event with its status and the week served after it, and
the start-up of a `churn serve` with no model at all: seconds to a 200 on /healthz and to a
503 on /readyz giving the reason (median of `--starts`; the goal: within 2 s).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from api import drive, free_port, request  # noqa: E402  (the shared load generator)

from serving.api import LOADING  # noqa: E402

READ, ADMIN = "bench-read-key", "bench-admin-key"


def call(port: int, path: str, method: str = "GET", key: str = READ) -> tuple[int, dict]:
    """Status and JSON body of one request (errors included)."""
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", method=method, headers={"X-API-Key": key}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def point(link: Path, target: str) -> None:
    """Repoint a symbolic link in one rename, as `churn score` does."""
    tmp = link.with_name(f".{link.name}.bench")
    tmp.unlink(missing_ok=True)
    tmp.symlink_to(target)
    tmp.replace(link)


def two_weeks(outputs: Path, work: Path) -> tuple[Path, list[str]]:
    """A scores folder with the latest week and the Monday before it; ids in both."""
    from data.params import BaseParams
    from serving.params import ScoreParams
    from serving.stages import score

    latest = (outputs / "score" / "latest").resolve()
    scores = work / "scores"
    scores.mkdir()
    shutil.copytree(latest, scores / "a")
    day = pd.Timestamp(pd.read_parquet(latest / "scores.parquet")["as_of"].iloc[0]).date()
    previous = day - pd.Timedelta(days=7)
    print(f"scoring {previous} beside {day} for the week swap", flush=True)
    scratch = work / "score-run"
    summary = json.loads((latest / "summary.json").read_text())
    model = "champion" if summary["model"].get("alias") == "champion" else "train"
    score(
        outputs / "features",
        outputs / "train",
        scratch,
        BaseParams(),
        ScoreParams(model=model),
        previous,
        mlflow_dir=outputs / "mlflow",
    )
    shutil.copytree((scratch / str(previous)).resolve(), scores / "b")
    (scores / "empty").mkdir()
    point(scores / "latest", "a")
    ids = set(pd.read_parquet(scores / "a" / "scores.parquet")["account_id"])
    ids &= set(pd.read_parquet(scores / "b" / "scores.parquet")["account_id"])
    return scores, sorted(ids)


def serve(port: int, env: dict[str, str], cwd: Path) -> subprocess.Popen:
    churn = Path(sys.executable).parent / "churn"
    return subprocess.Popen(
        [churn, "serve", "--port", str(port), "--log-level", "warning"],
        env=os.environ | env | {"PYTHONWARNINGS": "ignore"},
        cwd=cwd,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def until(check: Any, seconds: float = 120) -> float:
    """Seconds until `check()` is true (polling every 20 ms)."""
    started = time.perf_counter()
    while time.perf_counter() - started < seconds:
        try:
            if check():
                return time.perf_counter() - started
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("timed out")


def events(port: int, scores: Path, seconds: float, every: float, log: list, stop: Any) -> None:
    """Reloads, week swaps and one failing reload, on schedule, each logged."""
    started = time.perf_counter()
    weeks = {
        name: str(
            pd.Timestamp(pd.read_parquet(scores / name / "scores.parquet")["as_of"].iloc[0]).date()
        )
        for name in ("a", "b")
    }
    plan = [
        (seconds / 4, "b", "latest -> the other week"),
        (seconds / 2, "empty", "latest -> an empty folder"),
        (seconds * 3 / 4, "a", "latest -> the first week"),
    ]
    next_reload = every
    while not stop.is_set():
        now = time.perf_counter() - started
        if plan and now >= plan[0][0]:
            _, target, what = plan.pop(0)
            point(scores / "latest", target)
            status, body = call(port, "/v1/admin/reload", "POST", ADMIN)
            if target == "empty":  # the old week must still be served; then put it back
                point(scores / "latest", "b")
            expected = weeks.get(target, weeks["b"])
            waited = until(lambda e=expected: call(port, "/v1/model")[1]["scores_as_of"] == e, 10)
            log.append(_event(now, what + " + reload", status, body, expected, waited))
            continue
        if now >= next_reload:
            next_reload += every
            status, body = call(port, "/v1/admin/reload", "POST", ADMIN)
            log.append(_event(now, "reload", status, body, None, 0.0))
        time.sleep(0.05)


def _event(now: float, what: str, status: int, body: dict, week: str | None, waited: float) -> dict:
    code = (body.get("error") or {}).get("code") or body.get("status")
    return {
        "t": round(now, 1),
        "event": what,
        "status": status,
        "answer": code,
        "week_served": week,
        "served_after_s": round(waited, 2),
    }


def start_up_without_model(starts: int, work: Path) -> dict[str, float]:
    """Median seconds, in a project with no outputs, to /healthz 200, /readyz 503, and /readyz
    503 giving the reason it cannot load (rather than "loading")."""
    times: dict[str, list[float]] = {"healthz_200_s": [], "readyz_503_s": [], "reason_s": []}
    empty = work / "empty-project"
    empty.mkdir()
    for _ in range(starts):
        port = free_port()
        began = time.perf_counter()
        process = serve(port, {"CHURN_API_KEYS": READ}, empty)
        try:
            until(lambda port=port: _status(port, "/healthz") == 200)
            times["healthz_200_s"].append(time.perf_counter() - began)
            until(lambda port=port: _reason(port) != "")
            times["readyz_503_s"].append(time.perf_counter() - began)
            until(lambda port=port: _reason(port) not in ("", LOADING))
            times["reason_s"].append(time.perf_counter() - began)
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {name: statistics.median(values) for name, values in times.items()}


def _status(port: int, path: str) -> int:
    return call(port, path)[0]


def _reason(port: int) -> str:
    status, body = call(port, "/readyz")
    return str(body.get("detail")) if status == 503 else ""


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--reload-every", type=float, default=2.0)
    parser.add_argument("--starts", type=int, default=3)
    parser.add_argument("--outputs", type=Path, default=Path("outputs"))
    parser.add_argument("--json", type=Path, help="Also write the figures here.")
    args = parser.parse_args()
    outputs = args.outputs.resolve()
    with tempfile.TemporaryDirectory(prefix="api-faults-") as tmp:
        work = Path(tmp)
        scores, ids = two_weeks(outputs, work)
        port = free_port()
        process = serve(
            port,
            {
                "CHURN_API_KEYS": READ,
                "CHURN_ADMIN_KEYS": ADMIN,
                "CHURN_RELOAD_MIN_SECONDS": "0.5",
                "CHURN_WATCH_SECONDS": "1",
                "CHURN_SCORES_DIR": str(scores / "latest"),
                "CHURN_TRAIN_DIR": str(outputs / "train"),
                "CHURN_MLFLOW_DIR": str(outputs / "mlflow"),
                "CHURN_FEATURES_DIR": str(outputs / "features"),
            },
            work,
        )
        log: list[dict] = []
        try:
            ready_s = until(lambda: _status(port, "/readyz") == 200)
            lookups = [
                request("GET", f"/v1/accounts/{i}/risk", port, headers={"X-API-Key": READ})
                for i in ids
            ]
            pool = iter(range(10**12))
            drive(port, lambda: lookups[next(pool) % len(lookups)], 1, 1.0)  # warm up
            stop = threading.Event()
            thread = threading.Thread(
                target=events, args=(port, scores, args.seconds, args.reload_every, log, stop)
            )
            thread.start()
            load = drive(
                port, lambda: lookups[next(pool) % len(lookups)], args.concurrency, args.seconds
            )
            stop.set()
            thread.join()
        finally:
            process.terminate()
            process.wait(timeout=30)
        start = start_up_without_model(args.starts, work)
    figures = {"ready_s": ready_s, "lookups": load, "events": log, "no_model_start": start}
    print(f"ready after {ready_s:.1f} s with the demo's champion")
    print(
        f"lookups at {args.concurrency} connections for {args.seconds:.0f} s: "
        f"{load['requests']} requests, p50 {load['p50_ms']:.2f} ms, p99 {load['p99_ms']:.2f} ms, "
        f"{load['rps']:.0f} req/s, non-2xx {load['errors']}, socket errors "
        f"{load.get('socket_errors', 0)}"
    )
    reloads = [e for e in log if e["event"] == "reload"]
    print(
        f"{len(reloads)} plain reloads: "
        + ", ".join(f"{s} x{sum(e['status'] == s for e in reloads)}" for s in {200, 429, 503})
    )
    for e in log:
        if e["event"] != "reload":
            print(
                f"  t={e['t']:>5} s  {e['event']:<36} {e['status']} {e['answer']:<15} "
                f"then week {e['week_served']} served ({e['served_after_s']:.2f} s)"
            )
    print(
        f"churn serve in a project with no outputs ({args.starts} starts, median): /healthz 200 "
        f"after {start['healthz_200_s']:.2f} s, /readyz 503 after {start['readyz_503_s']:.2f} s, "
        f"giving the reason it cannot load after {start['reason_s']:.2f} s"
    )
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2, default=str))


if __name__ == "__main__":
    main()
