"""Speed and memory of `churn features`, and the DuckDB stage against the pandas reference.

    .venv/bin/python benchmarks/feature_table.py                # 20k accounts + reference run
    .venv/bin/python benchmarks/feature_table.py --accounts 2000 --skip-reference

1. Large world: `churn generate --accounts N` and `churn validate` when the generator and the
   validator are importable (`data.world`, `data.validation`); otherwise (or with
   `--synthetic`) a synthetic Interface-A export of the same shape written by DuckDB
   (about 2,500 usage rows per account, 50 million for 20k accounts, over 2.5 years).
   The stage runs in a child process; wall time and peak RSS (the child's VmHWM) are printed.
2. Reference: the stage on the demo world (2000 accounts by default) against the plain-pandas
   reference `tests/features/reference.py`, which loops over snapshot rows; it is timed on a
   sample of accounts and scaled by row count (it would take hours on the whole world).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
START, EXPORT = dt.date(2023, 1, 2), dt.date(2025, 7, 1)  # 2.5 years

SYNTHETIC = """
CREATE TABLE accounts AS SELECT 'A' || lpad(CAST(i AS VARCHAR), 6, '0') AS account_id,
  DATE '{start}' + CAST(hash(i, 1) % 700 AS INTEGER) AS created_at, NULL::VARCHAR AS name,
  ['low_touch', 'middle_touch', 'high_touch'][1 + hash(i, 2) % 3] AS segment,
  'csm' || (hash(i, 3) % 60) AS csm_id, ['retail', 'health', 'saas', 'finance'][1 + hash(i, 4) % 4]
  AS industry, ['eu', 'us', 'apac'][1 + hash(i, 5) % 3] AS region FROM range({n}) t(i);
CREATE TABLE subscriptions AS WITH p AS (SELECT account_id, created_at, j,
    1 + hash(account_id, 6) % 40 AS k, hash(account_id, 7) % 4 = 0 AS annual FROM accounts,
    range(40) r(j))
  SELECT account_id, created_at + CAST(j * CASE WHEN annual THEN 365 ELSE 30 END AS INTEGER)
    AS start_date, CASE WHEN j = k - 1 AND hash(account_id, 8) % 3 = 0 THEN NULL ELSE
    created_at + CAST((j + 1) * CASE WHEN annual THEN 365 ELSE 30 END - 1 AS INTEGER) END
    AS end_date, CAST(50 + hash(account_id, j) % 500 AS DOUBLE) AS mrr,
    ['basic', 'pro', 'enterprise'][1 + hash(account_id, 9) % 3] AS plan FROM p
  WHERE j < k AND created_at + CAST(j * CASE WHEN annual THEN 365 ELSE 30 END AS INTEGER)
    < DATE '{export}';
CREATE TABLE spans AS SELECT account_id, min(start_date) AS lo,
  least(max(coalesce(end_date, DATE '{export}')), DATE '{export}' - 1) AS hi,
  1 + hash(account_id, 10) % 15 AS users FROM subscriptions GROUP BY account_id;
COPY (WITH d AS (SELECT account_id, users, CAST(unnest(generate_series(lo, hi, INTERVAL 1 DAY))
    AS DATE) AS day FROM spans),
  e AS (SELECT account_id, users, day, unnest(range(hash(account_id, day) % 11)) AS j FROM d)
  SELECT account_id, (CAST(day AS TIMESTAMP) + to_seconds(CAST(hash(account_id, day, j) % 86400
    AS BIGINT)))::TIMESTAMPTZ AS occurred_at,
    'event_' || (hash(account_id, j, 11) % 12) AS event_type,
    'u' || (hash(account_id, day, j, 12) % users) AS user_id, 1.0 AS quantity FROM e)
  TO '{out}/usage_events.parquet' (FORMAT parquet);
CREATE TABLE tickets AS WITH t AS (SELECT account_id, lo, hi, unnest(range(1 + hash(account_id,
    13) % 20)) AS j FROM spans)
  SELECT account_id || '-' || j AS ticket_id, account_id, (CAST(lo AS TIMESTAMP) + to_seconds(
    CAST(hash(account_id, j, 14) % greatest(1, 86400 * (hi - lo)) AS BIGINT)))::TIMESTAMPTZ
    AS opened_at, CASE WHEN hash(account_id, j, 15) % 10 = 0 THEN NULL ELSE opened_at +
    to_seconds(CAST(3600 + hash(account_id, j, 16) % 600000 AS BIGINT)) END AS closed_at,
    ['low', 'normal', 'high', 'urgent'][1 + hash(account_id, j, 17) % 4] AS priority,
    'general' AS category, CASE WHEN closed_at IS NULL THEN NULL ELSE
    CAST(1 + hash(account_id, j, 18) % 5 AS INTEGER) END AS csat FROM t;
CREATE TABLE contacts AS WITH t AS (SELECT account_id, lo, hi, unnest(range(1 + hash(account_id,
    19) % 30)) AS j FROM spans)
  SELECT account_id, (CAST(lo AS TIMESTAMP) + to_seconds(CAST(hash(account_id, j, 20) %
    greatest(1, 86400 * (hi - lo)) AS BIGINT)))::TIMESTAMPTZ AS occurred_at, 'call' AS channel,
    ['inbound', 'outbound'][1 + hash(account_id, j, 21) % 2] AS direction, NULL::VARCHAR AS csm_id
  FROM t;
CREATE TABLE manager_ratings AS WITH t AS (SELECT account_id, lo, hi, unnest(range(hash(
    account_id, 22) % 12)) AS j FROM spans)
  SELECT account_id, lo + CAST(hash(account_id, j, 23) % greatest(1, hi - lo) AS INTEGER)
    AS rated_at, CAST(1 + hash(account_id, j, 24) % 4 AS INTEGER) AS risk_rating,
    CAST(1 + hash(account_id, j, 25) % 3 AS INTEGER) AS communication_level,
    NULL::VARCHAR AS csm_id, NULL::VARCHAR AS note FROM t;
"""


def synthetic_world(out: Path, n_accounts: int) -> Path:
    """Write a synthetic Interface-A export of `n_accounts` accounts into `out`."""
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    # hash() is UBIGINT; a signed value keeps list indexing and date arithmetic simple.
    sql = re.sub(r"hash\(([^()]*)\)", r"CAST(hash(\1) % 2147483647 AS BIGINT)", SYNTHETIC)
    con.execute(sql.format(start=START, export=EXPORT, n=n_accounts, out=out))
    for name in ("accounts", "subscriptions", "tickets", "contacts", "manager_ratings"):
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet)")
    rows = con.execute(f"SELECT count(*) FROM '{out}/usage_events.parquet'").fetchone()[0]
    report = {
        "export_date": EXPORT.isoformat(),
        "missing_sources": [],
        "tables": {"usage_events": {"rows": rows}},
    }
    (out / "report.json").write_text(json.dumps(report))
    return out


def generated_world(work: Path, n_accounts: int, seed: int = 42) -> Path:
    """`churn generate` + `churn validate` into `work` (cached); raises if not available yet."""
    from data.params import BaseParams, ValidateParams
    from data.stages import generate, validate

    validated = work / f"validate-{n_accounts}"
    if not (validated / "report.json").exists():
        generate(work / f"demo-{n_accounts}", n_accounts=n_accounts, seed=seed)
        validate(work / f"demo-{n_accounts}" / "raw", validated, BaseParams(), ValidateParams())
    return validated


def world(work: Path, n_accounts: int, synthetic: bool) -> tuple[Path, str]:
    """A validated export of `n_accounts` accounts and how it was made."""
    if not synthetic:
        try:
            return generated_world(work, n_accounts), "churn generate + validate"
        except Exception as err:  # the generator may not be merged yet
            print(f"(generator unavailable: {type(err).__name__}: {err}; using synthetic)")
    folder = work / f"synthetic-{n_accounts}"
    if not (folder / "report.json").exists():
        synthetic_world(folder, n_accounts)
    return folder, "synthetic DuckDB export"


CHILD = """
import json, logging, sys, time
from pathlib import Path
from data.params import BaseParams
from features.params import FeaturesParams
from features.stages import features
logging.basicConfig(level=logging.INFO, format="  %(message)s")
started = time.perf_counter()
manifest = features(Path(sys.argv[1]), Path(sys.argv[2]), BaseParams(),
                    FeaturesParams.model_validate_json(sys.argv[3]))
seconds = time.perf_counter() - started
# VmHWM: this process's peak resident memory since exec (not the parent's pages at fork).
status = Path("/proc/self/status").read_text().splitlines()
hwm_kib = int(next(x for x in status if x.startswith("VmHWM")).split()[1])
print(json.dumps({"seconds": seconds, "rows": manifest.rows, "peak_gib": hwm_kib / 2**20}))
"""


def run_stage(validated: Path, out: Path, params: str = "{}") -> dict:
    """Run the stage in a child process; wall time, rows and the child's peak RSS."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, str(validated), str(out), params],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    print(done.stderr.rstrip())
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_reference():
    path = ROOT / "tests" / "features" / "reference.py"
    spec = importlib.util.spec_from_file_location("features_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def reference_race(validated: Path, work: Path, sample: int) -> None:
    """Time the stage on the whole world and the reference on a sample, scaled by rows."""
    stage = run_stage(validated, work / "features-ref", '{"event_types": ["event_0"]}')
    tables = {p.stem: pd.read_parquet(p) for p in validated.glob("*.parquet")}
    export = dt.date.fromisoformat(
        json.loads((validated / "report.json").read_text())["export_date"]
    )
    ids = sorted(tables["accounts"]["account_id"])[:sample]
    small = {k: v[v["account_id"].isin(ids)] for k, v in tables.items()}
    reference = load_reference()
    started = time.perf_counter()
    rows = len(reference.build(small, export, ["event_0"]))
    seconds = time.perf_counter() - started
    scaled = seconds * stage["rows"] / max(rows, 1)
    print(f"stage (DuckDB): {stage['seconds']:.1f} s for {stage['rows']:,} rows")
    print(
        f"reference (pandas): {seconds:.1f} s for {rows:,} rows of {sample} accounts "
        f"-> about {scaled:,.0f} s for the whole world (scaled by rows)"
    )
    print(f"speed-up: about {scaled / stage['seconds']:.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=20000)
    parser.add_argument("--demo-accounts", type=int, default=2000)
    parser.add_argument("--reference-sample", type=int, default=60)
    parser.add_argument("--work", type=Path, default=Path("/tmp/churn-bench"))
    parser.add_argument("--synthetic", action="store_true", help="Skip `churn generate`.")
    parser.add_argument("--skip-reference", action="store_true")
    args = parser.parse_args()

    validated, how = world(args.work, args.accounts, args.synthetic)
    usage = pq.ParquetFile(validated / "usage_events.parquet").metadata.num_rows
    print(f"world: {args.accounts:,} accounts, {usage:,} usage rows ({how})")
    big = run_stage(validated, args.work / "features")
    print(
        f"stage: {big['seconds']:.1f} s wall, {big['peak_gib']:.2f} GiB peak RSS, "
        f"{big['rows']:,} snapshot rows (targets: <= 60 s, <= 4 GiB)"
    )
    if not args.skip_reference:
        demo, how = world(args.work, args.demo_accounts, args.synthetic)
        print(f"reference race on {args.demo_accounts:,} accounts ({how})")
        reference_race(demo, args.work, args.reference_sample)


if __name__ == "__main__":
    main()
