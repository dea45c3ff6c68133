"""The features stage on DuckDB and on Spark (local mode): time, CPU, memory and data moved.

    .venv/bin/python benchmarks/features.py --engine duckdb --engine spark --accounts 2000 5000 \
        20000 --json outputs/bench-features/figures.json

For each size a world is generated and validated once (`churn generate` + `churn validate`,
kept under --work and reused), then the stage runs once per engine in a child process of
this script, so only the stage is measured:

- wall: seconds of the `features()` call, timed in the child (Spark's start-up included);
- CPU: user + system seconds of the whole process tree (the Python child and the JVM it
  starts), less what the child spent before the stage began (interpreter and imports). This
  script makes itself the "subreaper" of its descendants, so the JVM, which outlives the
  Python child by a moment, is reaped here and its CPU counted exactly (getrusage); the sum
  of psutil samples of every process seen (`cpu_sampled_s`, which misses up to 0.2 s of each
  process's end) is the cross-check, and the figure when the subreaper is not available;
- peak memory: the largest sum of the tree's resident sets, sampled every 0.2 s;
- rows of the input tables and of the output, bytes of the validated Parquet, and for Spark
  the Parquet bytes and rows of each intermediate table written to `spark.staging` (a folder
  under --work, deleted once measured), and from Spark's event log (kept under --work) the
  executor CPU, shuffle and spill of the tasks that wrote each of those tables.

Spark runs with master local[2], spark.driver.memory (--driver-memory, 8g) and every
--spark-conf, plus its event log and spark.local.dir in the run's folder; DuckDB with
memory_limit 3GB and its default threads. Each child's TMPDIR is in its run's folder too, and
a child killed by a signal is run again (--retries). The load average is printed with each
run: the machine may be shared, and CPU seconds move less than wall time.

Each run records the code it ran (a hash of features/ and data/, and the commit). To measure
one commit while features/ is being edited, run from a clone of it:
`git clone -q . DIR && cp benchmarks/features.py DIR/benchmarks/ && cd DIR &&
PYTHONPATH=$PWD python benchmarks/features.py --work <this checkout>/outputs/bench-features`.
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import datetime as dt
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

import psutil
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
INPUTS = ("usage_events", "subscriptions", "tickets", "contacts", "manager_ratings", "accounts")
GIB = 2**30
PR_SET_CHILD_SUBREAPER = 36  # linux/prctl.h


# --- the child: the stage and nothing else ---------------------------------------------------


def code_version(root: Path) -> dict[str, Any]:
    """Which code runs: its folder, a hash of features/ and data/, and the git commit if any.

    The features code may change while a long benchmark runs (another checkout's commits):
    runs of one benchmark are comparable only when this is the same for all.
    """
    digest = hashlib.sha256()
    for path in sorted([*root.glob("features/*.py"), *root.glob("data/**/*.py")]):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    git = ["git", "-C", str(root)]
    head = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(
        [*git, "status", "--porcelain", "--", "features", "data"], capture_output=True, text=True
    )
    return {
        "root": str(root),
        "sha256": digest.hexdigest()[:12],
        "commit": head.stdout.strip() or None,
        "uncommitted_changes": bool(dirty.stdout.strip()),
    }


def child(validated: str, out: str, params_json: str) -> None:
    """Run the stage once; print its seconds and rows as one JSON line on stdout."""
    import logging

    from data.params import BaseParams
    from features.params import FeaturesParams
    from features.stages import features

    logging.basicConfig(level=logging.INFO, format="  %(message)s", stream=sys.stderr)
    params = FeaturesParams.model_validate_json(params_json)
    code = code_version(Path(sys.modules[features.__module__].__file__).parents[1])
    # This process's CPU so far, and its reaped children's (git, just above).
    before = [resource.getrusage(who) for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN)]
    started = time.perf_counter()
    manifest = features(Path(validated), Path(out), BaseParams(), params)
    seconds = time.perf_counter() - started
    if params.engine == "spark":  # closes the event log; not part of the stage's time
        from pyspark.sql import SparkSession

        session = SparkSession.getActiveSession()
        if session is not None:
            session.stop()
    result = {
        "seconds": seconds,
        "rows": manifest.rows,
        "labeled_rows": manifest.labeled_rows,
        "cpu_before_s": sum(r.ru_utime + r.ru_stime for r in before),
        "code": code,
    }
    print("RESULT " + json.dumps(result), flush=True)


# --- measuring the process tree -----------------------------------------------------------------


class TreeSampler:
    """Samples this process's descendants every `every` seconds: summed RSS, CPU, load."""

    def __init__(self, every: float = 0.2) -> None:
        self.every, self.peak_rss, self.loads = every, 0, []
        self.cpu: dict[tuple[int, float], float] = {}  # (pid, start time) -> last CPU seen
        self.names: dict[tuple[int, float], str] = {}  # (pid, start time) -> its program
        self.heaps: dict[tuple[int, float], str] = {}  # JVM -> its -Xmx
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        rss = 0
        for proc in psutil.Process().children(recursive=True):
            try:
                with proc.oneshot():
                    rss += proc.memory_info().rss
                    times = proc.cpu_times()
                    key = (proc.pid, proc.create_time())
                    if key not in self.heaps and proc.name() == "java":  # named so after exec
                        heap = [a for a in proc.cmdline() if a.startswith("-Xmx")]
                        self.heaps[key] = heap[-1] if heap else "default"
                    self.names[key] = proc.name()
                self.cpu[key] = times.user + times.system
            except psutil.Error:  # it exited between the listing and the reading
                continue
        self.peak_rss = max(self.peak_rss, rss)
        self.loads.append(os.getloadavg()[0])

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.every)

    def __enter__(self) -> TreeSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def become_subreaper() -> bool:
    """Adopt orphaned descendants (the JVM, once its Python parent exits) to reap them here."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0
    except (OSError, AttributeError):
        return False


def reap_descendants(grace: float = 120.0) -> None:
    """Wait for every remaining descendant to exit (killing it after `grace` s) and reap it."""
    deadline = time.monotonic() + grace
    while psutil.Process().children():
        if time.monotonic() > deadline:
            for proc in psutil.Process().children(recursive=True):
                with contextlib.suppress(psutil.Error):
                    proc.kill()
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if not pid:
            time.sleep(0.1)


# PySpark's warnings about pandas 3, repeated at every conversion: kept out of the echo.
QUIET = ("FutureWarning: PySpark does not yet fully support pandas", "require_minimum_pandas")


def _echo(stream: Any, sink: deque[str] | list[str], prefix: str | None) -> None:
    """Keep each line of `stream` in `sink`; with a prefix, print it too (progress)."""
    for line in stream:
        sink.append(line.rstrip("\n"))
        if prefix is not None and not any(q in line for q in QUIET):
            print(prefix + line.rstrip("\n"), flush=True)


def run_child(validated: Path, out: Path, params: dict[str, Any], cwd: Path) -> dict[str, Any]:
    """Run the stage in a child process; its figures, or the failure and its last lines."""
    # -P: not this script's folder on sys.path, where this file would shadow the `features` package
    cmd = [sys.executable, "-P", str(Path(__file__).resolve()), "--child"]
    cmd += [str(validated), str(out), json.dumps(params)]
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    with TreeSampler() as tree:
        # The child's temporary files (DuckDB's spill, the Java wrapper) in its own folder: a
        # clean-up of /tmp by someone else on a shared machine cannot pull them from under it.
        (cwd / "tmp").mkdir(exist_ok=True)
        env = {**os.environ, "TMPDIR": str(cwd / "tmp")}
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=cwd, env=env
        )
        stdout: list[str] = []
        tail: deque[str] = deque(maxlen=40)
        readers = [
            threading.Thread(target=_echo, args=(proc.stdout, stdout, None)),
            threading.Thread(target=_echo, args=(proc.stderr, tail, "    | ")),
        ]
        for reader in readers:
            reader.start()
        returncode = proc.wait()
        for reader in readers:
            reader.join()
        reap_descendants()
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_tree = (usage.ru_utime + usage.ru_stime) - (usage_before.ru_utime + usage_before.ru_stime)
    figures: dict[str, Any] = {
        "ok": returncode == 0,
        "returncode": returncode,
        "process_s": elapsed,
        "peak_gib": tree.peak_rss / GIB,
        "load_before": load_before,
        "load_mean": sum(tree.loads) / max(len(tree.loads), 1),
        "load_max": max(tree.loads, default=load_before),
        "jvm_heaps": list(tree.heaps.values()),  # Spark's launcher (-Xmx128m), then Spark
    }
    result = [json.loads(x[7:]) for x in stdout if x.startswith("RESULT ")]
    if returncode or not result:
        figures["error"] = f"exit code {returncode}"
        figures["last_lines"] = list(tail)
        return figures
    stage, sampled = result[-1], sum(tree.cpu.values())
    by_program: dict[str, float] = {}
    for key, seconds in tree.cpu.items():
        name = tree.names.get(key, "?")
        by_program[name] = by_program.get(name, 0.0) + seconds
    by_program["python"] = by_program.get("python", 0.0) - stage["cpu_before_s"]
    figures |= {
        "wall_s": stage["seconds"],
        # Without the subreaper an orphaned JVM is reaped elsewhere: then the samples count more.
        "cpu_s": max(cpu_tree, sampled) - stage["cpu_before_s"],
        "cpu_sampled_s": sampled - stage["cpu_before_s"],
        # Where it went: the Python child (pandas, pickling, the final merge) against the JVM.
        "cpu_sampled_by_program_s": by_program,
        "snapshot_rows": stage["rows"],
        "labeled_rows": stage["labeled_rows"],
        "code": stage["code"],
    }
    return figures


# --- worlds, inputs, outputs and Spark's data volume -------------------------------------------


def world(work: Path, n_accounts: int, seed: int) -> tuple[Path, dict[str, float]]:
    """A validated world of `n_accounts` (generated and validated once, then reused)."""
    from data.params import BaseParams, ValidateParams
    from data.stages import generate, validate

    folder = work / f"world-{n_accounts}-{seed}"
    validated = folder / "validated"
    took: dict[str, float] = {}
    if (validated / "report.json").exists():
        print(f"[{n_accounts:,}] reusing the validated world in {validated}", flush=True)
        return validated, took
    if not (folder / "raw" / "accounts.csv").exists():
        print(f"[{n_accounts:,}] generating {n_accounts:,} accounts (seed {seed}) ...", flush=True)
        started = time.perf_counter()
        generate(folder, n_accounts=n_accounts, seed=seed)
        took["generate_s"] = time.perf_counter() - started
        print(f"[{n_accounts:,}] generated in {took['generate_s']:.0f} s", flush=True)
    print(f"[{n_accounts:,}] validating ...", flush=True)
    started = time.perf_counter()
    validate(folder / "raw", validated, BaseParams(), ValidateParams())
    took["validate_s"] = time.perf_counter() - started
    print(f"[{n_accounts:,}] validated in {took['validate_s']:.0f} s", flush=True)
    return validated, took


def input_tables(validated: Path) -> dict[str, dict[str, int]]:
    """Rows (from the Parquet metadata) and bytes of each validated input table."""
    out = {}
    for name in INPUTS:
        path = validated / f"{name}.parquet"
        if path.exists():
            rows = pq.ParquetFile(path).metadata.num_rows
            out[name] = {"rows": rows, "bytes": path.stat().st_size}
    return out


def output_shape(out: Path) -> dict[str, Any]:
    """Rows and columns of snapshots.parquet, snapshot dates and features of the manifest."""
    meta = pq.ParquetFile(out / "snapshots.parquet").metadata
    manifest = json.loads((out / "manifest.json").read_text())
    return {
        "rows": meta.num_rows,
        "columns": meta.num_columns,
        "bytes": (out / "snapshots.parquet").stat().st_size,
        "snapshot_dates": manifest["snapshot_dates"]["count"],
        "features": len(manifest.get("features", [])),
    }


def staged_tables(staging: Path) -> list[dict[str, Any]]:
    """Parquet bytes and rows of each intermediate table Spark wrote, in the order written."""
    tables = []
    for folder in staging.glob("churn-features-*/*"):
        files = list(folder.rglob("*.parquet"))
        name, _, order = folder.name.rpartition("-")
        tables.append(
            {
                "table": name,
                "order": int(order) if order.isdigit() else -1,
                "bytes": sum(f.stat().st_size for f in files),
                "rows": sum(pq.ParquetFile(f).metadata.num_rows for f in files),
                "files": len(files),
            }
        )
    return sorted(tables, key=lambda t: t["order"])


# The staged table an SQL execution writes, from its physical plan (other executions: "driver").
WRITES = re.compile(
    r"InsertIntoHadoopFsRelationCommand\nInput: .*\nArguments: \S*/churn-features-\w+/(\w+)-\d+,"
)
METRICS = (
    "tasks",
    "executor_cpu_s",
    "shuffle_write_bytes",
    "shuffle_read_bytes",
    "memory_spilled_bytes",
    "disk_spilled_bytes",
    "input_bytes",
    "output_bytes",
    "gc_s",
    "max_peak_execution_memory_bytes",
)


def _task_metrics(metrics: dict[str, Any]) -> dict[str, float]:
    write = metrics.get("Shuffle Write Metrics", {})
    read = metrics.get("Shuffle Read Metrics", {})
    return {
        "tasks": 1,
        "executor_cpu_s": metrics.get("Executor CPU Time", 0) / 1e9,
        "shuffle_write_bytes": write.get("Shuffle Bytes Written", 0),
        "shuffle_read_bytes": read.get("Remote Bytes Read", 0) + read.get("Local Bytes Read", 0),
        "memory_spilled_bytes": metrics.get("Memory Bytes Spilled", 0),
        "disk_spilled_bytes": metrics.get("Disk Bytes Spilled", 0),
        "input_bytes": metrics.get("Input Metrics", {}).get("Bytes Read", 0),
        "output_bytes": metrics.get("Output Metrics", {}).get("Bytes Written", 0),
        "gc_s": metrics.get("JVM GC Time", 0) / 1e3,
        "max_peak_execution_memory_bytes": metrics.get("Peak Execution Memory", 0),
    }


def event_log(folder: Path) -> dict[str, dict[str, float]]:
    """Task totals of Spark's event log in `folder`: in all, and per staged table written.

    A task belongs to a stage, the stage to a job, the job to an SQL execution, and the
    execution writes a staged table (`out`: the output's part files) or is a query whose rows
    the driver collects (`driver`).
    """
    table_of: dict[int, str] = {}  # execution -> table
    execution_of: dict[int, int] = {}  # stage -> execution
    buckets: dict[str, dict[str, float]] = {}
    for log in folder.rglob("events_*"):  # Spark 4: eventlog_v2_<app>/events_<n>_<app>
        with log.open() as lines:
            for line in lines:
                event = json.loads(line)
                kind = event["Event"]
                if kind.endswith("SQLExecutionStart"):
                    found = WRITES.search(event.get("physicalPlanDescription", ""))
                    table_of[event["executionId"]] = found.group(1) if found else "driver"
                elif kind == "SparkListenerJobStart":
                    execution = int(event["Properties"].get("spark.sql.execution.id", -1))
                    execution_of |= dict.fromkeys(event["Stage IDs"], execution)
                elif kind == "SparkListenerTaskEnd":
                    execution = execution_of.get(event["Stage ID"], -1)
                    table = table_of.get(execution, "driver")
                    bucket = buckets.setdefault(table, dict.fromkeys(METRICS, 0.0))
                    for key, value in _task_metrics(event.get("Task Metrics") or {}).items():
                        if key.startswith("max_"):
                            bucket[key] = max(bucket[key], value)
                        else:
                            bucket[key] += value
    totals = {
        key: (max if key.startswith("max_") else sum)(b[key] for b in buckets.values())
        for key in METRICS
    }
    return {"total": totals, **buckets}


# --- one run ---------------------------------------------------------------------------------


def stage_params(engine: str, run_dir: Path, args: argparse.Namespace) -> dict[str, Any]:
    """FeaturesParams (as JSON-ready dict) for `engine`, staging and event log under `run_dir`."""
    if engine == "duckdb":
        return {"engine": "duckdb", "memory_limit": args.memory_limit}
    (run_dir / "eventlog").mkdir(parents=True, exist_ok=True)
    conf = {
        "spark.driver.memory": args.driver_memory,
        "spark.eventLog.enabled": "true",
        "spark.eventLog.dir": (run_dir / "eventlog").as_uri(),
        "spark.eventLog.compress": "false",
        "spark.local.dir": str(run_dir / "spark-local"),  # shuffle files: not in /tmp (see TMPDIR)
    }
    conf |= dict(kv.split("=", 1) for kv in args.spark_conf)
    staging = str(run_dir / "staging")
    return {"engine": "spark", "spark": {"master": args.master, "conf": conf, "staging": staging}}


def run(
    engine: str, n_accounts: int, validated: Path, runs: Path, args: argparse.Namespace
) -> dict[str, Any]:
    """The stage on one engine and one world: every figure of the run.

    A child killed by a signal (on a shared machine, most likely someone else's clean-up, not
    the stage failing) is run again, up to --retries times; the kills are recorded.
    """
    run_dir = runs / f"{n_accounts}-{engine}"
    inputs = input_tables(validated)
    killed: list[dict[str, Any]] = []
    while True:
        shutil.rmtree(run_dir, ignore_errors=True)
        run_dir.mkdir(parents=True)
        params = stage_params(engine, run_dir, args)
        print(f"[{n_accounts:,}] {engine}: features stage in a child process ...", flush=True)
        figures = run_child(validated, run_dir / "out", params, cwd=run_dir)
        if figures["returncode"] >= 0 or len(killed) >= args.retries:
            break
        killed.append({k: figures[k] for k in ("returncode", "process_s", "last_lines")})
        print(
            f"[{n_accounts:,}] {engine}: killed by signal {-figures['returncode']}; again in 30 s"
        )
        time.sleep(30)
    record: dict[str, Any] = {
        "accounts": n_accounts,
        "engine": engine,
        "params": params,
        "inputs": inputs,
        "input_bytes": sum(t["bytes"] for t in inputs.values()),
        "usage_rows": inputs["usage_events"]["rows"],
        **figures,
        "killed_attempts": killed,
    }
    if figures["ok"]:
        record["output"] = output_shape(run_dir / "out")
        usage, snaps, cpu = record["usage_rows"], record["snapshot_rows"], record["cpu_s"]
        record["cpu_us_per_usage_row"] = cpu * 1e6 / usage
        record["cpu_us_per_snapshot_row"] = cpu * 1e6 / max(snaps, 1)
    if engine == "spark" and figures["ok"]:
        record["staging"] = staged_tables(run_dir / "staging")
        record["staging_bytes"] = sum(t["bytes"] for t in record["staging"])
        record["event_log"] = event_log(run_dir / "eventlog")
    shutil.rmtree(run_dir / "staging", ignore_errors=True)
    return record


# --- printing ----------------------------------------------------------------------------------

COLUMNS = (  # heading, width, format
    ("accounts", 8, ","),
    ("engine", 6, ""),
    ("usage rows", 12, ","),
    ("snapshot rows", 13, ","),
    ("wall s", 7, ".1f"),
    ("CPU s", 7, ".1f"),
    ("peak GiB", 8, ".2f"),
    ("CPU µs/usage row", 16, ".2f"),
    ("CPU µs/snapshot row", 19, ".1f"),
    ("load", 5, ".1f"),
)
KEYS = (
    "accounts",
    "engine",
    "usage_rows",
    "snapshot_rows",
    "wall_s",
    "cpu_s",
    "peak_gib",
    "cpu_us_per_usage_row",
    "cpu_us_per_snapshot_row",
    "load_mean",
)


def print_table(records: list[dict[str, Any]]) -> None:
    """One line per run; a failed run shows its error instead of figures."""
    print("  ".join(f"{name:>{width}}" for name, width, _ in COLUMNS))
    for r in records:
        if not r["ok"]:
            print(f"{r['accounts']:>8,}  {r['engine']:>6}  FAILED: {r.get('error')}")
            continue
        cells = (f"{r[key]:>{w}{fmt}}" for key, (_, w, fmt) in zip(KEYS, COLUMNS, strict=True))
        print("  ".join(cells))


def print_spark_volume(record: dict[str, Any]) -> None:
    """Per staged table: rows and Parquet bytes, and its tasks' CPU and shuffle (event log)."""
    staged: dict[str, list[int]] = {}
    for t in record["staging"]:
        rows_bytes = staged.setdefault(t["table"], [0, 0])
        rows_bytes[0] += t["rows"]
        rows_bytes[1] += t["bytes"]
    log = record["event_log"]
    mib = 2**20
    print(f"  {'staged table':<16} {'rows':>13} {'MiB':>9} {'task CPU s':>10} {'shuffle MiB':>11}")
    for name in [*staged, *(t for t in log if t not in staged and t != "total")]:
        rows, size = staged.get(name, [0, 0])
        tasks = log.get(name, {})
        print(
            f"  {name:<16} {rows:>13,} {size / mib:>9,.1f} {tasks.get('executor_cpu_s', 0):>10,.1f}"
            f" {tasks.get('shuffle_write_bytes', 0) / mib:>11,.1f}"
        )
    total = log["total"]
    print(
        f"  {'total':<16} {'':>13} {record['staging_bytes'] / mib:>9,.1f} "
        f"{total['executor_cpu_s']:>10,.1f} {total['shuffle_write_bytes'] / mib:>11,.1f}"
        f"  ({total['tasks']:,.0f} tasks, {total['disk_spilled_bytes'] / mib:,.0f} MiB spilled "
        f"to disk, GC {total['gc_s']:,.0f} s)"
    )


def print_run(record: dict[str, Any]) -> None:
    print_table([record])
    if record["killed_attempts"]:
        print(f"  (measured after {len(record['killed_attempts'])} attempt(s) killed by a signal)")
    if not record["ok"]:
        print("  last lines of the child:")
        for line in record.get("last_lines", [])[-15:]:
            print(f"    {line}")
        return
    out = record["output"]
    print(
        f"  input {record['input_bytes'] / 2**20:,.0f} MiB of validated Parquet; output "
        f"{out['rows']:,} rows x {out['columns']} columns ({out['snapshot_dates']} Mondays), "
        f"{out['bytes'] / 2**20:,.0f} MiB; load {record['load_before']:.1f} before, "
        f"{record['load_max']:.1f} at most"
    )
    programs = ", ".join(f"{k} {v:.1f} s" for k, v in record["cpu_sampled_by_program_s"].items())
    print(f"  CPU sampled {record['cpu_sampled_s']:.1f} s: {programs}")
    code = record["code"]
    commit = (code["commit"] or "no git")[:10] + (
        " + changes" if code["uncommitted_changes"] else ""
    )
    print(f"  code: features/ and data/ {code['sha256']} ({commit}) in {code['root']}")
    if record["engine"] == "spark":
        print(f"  JVMs seen (-Xmx): {', '.join(record['jvm_heaps']) or '?'}")
        print_spark_volume(record)


def comparison(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Spark / DuckDB ratios per size, and whether both outputs have the same shape."""
    out = []
    for n in sorted({r["accounts"] for r in records}):
        by = {r["engine"]: r for r in records if r["accounts"] == n and r["ok"]}
        if {"spark", "duckdb"} <= by.keys():
            s, d = by["spark"], by["duckdb"]
            shape = {e: (by[e]["output"]["rows"], by[e]["output"]["columns"]) for e in by}
            out.append(
                {
                    "accounts": n,
                    "wall": s["wall_s"] / d["wall_s"],
                    "cpu": s["cpu_s"] / d["cpu_s"],
                    "peak": s["peak_gib"] / d["peak_gib"],
                    "shape": shape,
                    "same_shape": shape["spark"] == shape["duckdb"],
                }
            )
    return out


def print_comparison(rows: list[dict[str, Any]]) -> None:
    print("Spark / DuckDB:")
    print(f"{'accounts':>8}  {'wall':>6}  {'CPU':>6}  {'peak':>6}  output shape (rows, columns)")
    for c in rows:
        same = "same" if c["same_shape"] else "DIFFERENT"
        print(
            f"{c['accounts']:>8,}  {c['wall']:>5.1f}x  {c['cpu']:>5.1f}x  {c['peak']:>5.1f}x  "
            f"{same}: spark {c['shape']['spark']}, duckdb {c['shape']['duckdb']}"
        )


# --- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", action="append", choices=["duckdb", "spark"])
    parser.add_argument("--accounts", type=int, nargs="+", default=[2000])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--work", type=Path, default=ROOT / "outputs" / "bench-features")
    parser.add_argument("--json", type=Path, help="Write every figure here (after each run).")
    parser.add_argument("--spark-conf", nargs="+", default=[], metavar="KEY=VALUE")
    parser.add_argument("--driver-memory", default="8g", help="spark.driver.memory")
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--memory-limit", default="3GB", help="DuckDB's memory_limit")
    parser.add_argument("--retries", type=int, default=3, help="Runs again of a killed child.")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return
    if bad := [kv for kv in args.spark_conf if "=" not in kv]:
        parser.error(f"--spark-conf takes key=value, not {bad}")
    engines = args.engine or ["duckdb", "spark"]
    work = args.work.resolve()
    reaper = become_subreaper()
    # A folder of this invocation's own: two benchmarks sharing --work never clobber each other.
    runs = work / "runs" / f"{dt.datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
    figures: dict[str, Any] = {
        "command": " ".join(["python", *sys.argv]),
        "cwd": str(Path.cwd()),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "started": dt.datetime.now().isoformat(timespec="seconds"),
        "machine": {
            "cpus": os.cpu_count(),
            "memory_gib": round(psutil.virtual_memory().total / GIB, 1),
            "load_at_start": os.getloadavg(),
            "subreaper": reaper,
        },
        "worlds": {},
        "runs": [],
    }
    print(
        f"{os.cpu_count()} CPUs, {figures['machine']['memory_gib']} GiB; load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; runs in {runs}"
    )
    for n in args.accounts:
        validated, took = world(work, n, args.seed)
        figures["worlds"][n] = {"validated": str(validated), **took}
        for engine in engines:
            record = run(engine, n, validated, runs, args)
            figures["runs"].append(record)
            print_run(record)
            figures["comparison"] = comparison(figures["runs"])
            if args.json:
                args.json.parent.mkdir(parents=True, exist_ok=True)
                args.json.write_text(json.dumps(figures, indent=2, default=str))
    print()
    print_table(figures["runs"])
    print()
    print_comparison(figures["comparison"])
    if len({r["code"]["sha256"] for r in figures["runs"] if r["ok"]}) > 1:
        print("WARNING: the features code changed between runs; they are not comparable")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        print(f"figures: {args.json}")


if __name__ == "__main__":
    main()
