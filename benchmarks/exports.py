"""The whole pipeline on exports shaped unlike the demo world: does every stage still run?

    .venv/bin/python benchmarks/exports.py                       # every variant
    .venv/bin/python benchmarks/exports.py --only recent parquet

One small world is generated (running periods mixed: monthly open, annual billed; and once
more, same seed, per other style a variant needs), then each variant rewrites its raw tables
the way another tool's export might look (a source missing, optional columns missing, Parquet
instead of CSV, a year of history, numeric ids, date-only timestamps, daily counts instead of
events, running periods billed to their end or open-ended, no billing_interval, ...)
and runs validate → features → train → evaluate → explain → compare → score → report in its
own folder, with a short tuning budget. Prints one line per variant: `ok` with the model's
test ROC AUC and ECE and how the latest week times each account's renewal (a date from the
billing interval, or only the anniversaries of the start), or the stage that failed with the
end of its error output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import yaml

CHURN = str(Path(sys.executable).parent / "churn")
Tables = dict[str, pd.DataFrame]
DATED = {
    "usage_events": "occurred_at",
    "tickets": "opened_at",
    "contacts": "occurred_at",
    "manager_ratings": "rated_at",
}


def without(*tables: str) -> Callable[[Tables], Tables]:
    return lambda t: {name: frame for name, frame in t.items() if name not in tables}


def without_columns(spec: dict[str, list[str]]) -> Callable[[Tables], Tables]:
    def mutate(t: Tables) -> Tables:
        for name, columns in spec.items():
            if name in t:
                t[name] = t[name].drop(columns=[c for c in columns if c in t[name]])
        return t

    return mutate


def last_months(t: Tables, months: int = 15) -> Tables:
    """Only the last `months` of every dated table (subscriptions: periods ending after it)."""
    end = pd.Timestamp(t["usage_events"]["occurred_at"].str[:10].max())
    cut = (end - pd.DateOffset(months=months)).date().isoformat()
    subs = t["subscriptions"]
    t["subscriptions"] = subs[(subs["end_date"] == "") | (subs["end_date"] >= cut)]
    for name, column in DATED.items():
        t[name] = t[name][t[name][column].str[:10] >= cut]
    return t


def numeric_ids(t: Tables) -> Tables:
    known = {a: str(1000 + i) for i, a in enumerate(t["accounts"]["account_id"])}
    return {  # orphan rows keep their ids
        name: f.assign(account_id=f["account_id"].map(known).fillna(f["account_id"]))
        for name, f in t.items()
    }


def coarse_timestamps(t: Tables) -> Tables:
    """Usage stamped with a date only; contacts in UTC with a `Z`."""
    t["usage_events"] = t["usage_events"].assign(occurred_at=lambda f: f["occurred_at"].str[:10])
    t["contacts"] = t["contacts"].assign(occurred_at=lambda f: f["occurred_at"].str[:19] + "Z")
    return t


def daily_counts(t: Tables) -> Tables:
    """One usage row per account, day and event type, with `quantity` (no user ids)."""
    u = t["usage_events"].assign(day=lambda f: f["occurred_at"].str[:10])
    counts = u.groupby(["account_id", "day", "event_type"]).size().reset_index(name="quantity")
    t["usage_events"] = pd.DataFrame(
        {
            "account_id": counts["account_id"],
            "occurred_at": counts["day"] + "T12:00:00",
            "event_type": counts["event_type"],
            "quantity": counts["quantity"].astype(str),
        }
    )
    return t


def subscription_spells(t: Tables) -> Tables:
    """One row per unbroken subscription, end date empty while it runs (a CRM's view)."""
    subs = t["subscriptions"].sort_values(["account_id", "start_date"])
    start = pd.to_datetime(subs["start_date"])
    end = pd.to_datetime(subs["end_date"].replace("", None))
    previous_end = end.groupby(subs["account_id"]).shift()
    new_spell = previous_end.isna() | (start > previous_end + pd.Timedelta(days=1))
    spell = new_spell.astype(int).groupby(subs["account_id"]).cumsum()
    rows = subs.assign(spell=spell.to_numpy(), end=end).groupby(["account_id", "spell"])
    spells = rows.agg(
        start_date=("start_date", "first"), end=("end", "last"), mrr=("mrr", "last")
    ).reset_index()
    exported = pd.Timestamp(t["usage_events"]["occurred_at"].str[:10].max())
    running = spells["end"].isna() | (spells["end"] > exported)  # paid past the export: runs
    spells["end_date"] = spells["end"].dt.strftime("%Y-%m-%d").where(~running, "")
    t["subscriptions"] = spells[["account_id", "start_date", "end_date", "mrr"]]
    return t


def few_accounts(t: Tables, n: int = 120) -> Tables:
    keep = set(t["accounts"]["account_id"].iloc[:n])
    return {name: f[f["account_id"].isin(keep)] for name, f in t.items()}


VARIANTS: dict[str, Callable[[Tables], Tables]] = {
    "as_generated": lambda t: t,
    "required_only": without("usage_events", "tickets", "contacts", "manager_ratings"),
    "no_ratings": without("manager_ratings"),
    "no_usage": without("usage_events"),
    "no_tickets_no_contacts": without("tickets", "contacts"),
    "optional_columns_missing": without_columns(
        {
            "accounts": ["name", "segment", "csm_id", "industry", "region"],
            "subscriptions": ["plan", "billing_interval"],
            "usage_events": ["user_id", "quantity"],
            "tickets": ["closed_at", "priority", "category", "csat"],
            "contacts": ["direction", "csm_id"],
            "manager_ratings": ["communication_level", "csm_id", "note"],
        }
    ),
    "parquet": lambda t: t,  # written as Parquet below
    "last_15_months": last_months,
    "numeric_ids": numeric_ids,
    "coarse_timestamps": coarse_timestamps,
    "daily_counts": daily_counts,
    "120_accounts": few_accounts,
    "subscription_spells": subscription_spells,
    "running_billed": lambda t: t,  # from the world generated with --running-periods billed
    "running_open": lambda t: t,
    "no_billing_interval": without_columns({"subscriptions": ["billing_interval"]}),
}
# The style of running periods each variant's world is generated with (default: mixed).
RUNNING = {"running_billed": "billed", "running_open": "open"}

STAGES = [
    ["validate", "--raw", "raw", "--out", "outputs/validate"],
    ["features", "--validated", "outputs/validate", "--out", "outputs/features"],
    ["train", "--features", "outputs/features", "--out", "outputs/train"],
    *[
        [stage, "--features", "outputs/features", "--train", "outputs/train", "--out", out]
        for stage, out in (("evaluate", "outputs/evaluate"), ("explain", "outputs/explain"))
    ],
    [
        "compare",
        *("--features", "outputs/features", "--train", "outputs/train"),
        *("--evaluate", "outputs/evaluate", "--explain", "outputs/explain"),
        *("--out", "outputs/compare"),
    ],
    [
        "score",
        *("--features", "outputs/features", "--train", "outputs/train"),
        *("--out", "outputs/score"),
    ],
    [
        "report",
        *("--scores", "outputs/score", "--evaluate", "outputs/evaluate"),
        *("--compare", "outputs/compare", "--out", "outputs/report"),
    ],
]


def write_variant(tables: Tables, folder: Path, name: str, params: dict) -> None:
    if folder.exists():
        shutil.rmtree(folder)
    (folder / "raw").mkdir(parents=True)
    for table, frame in VARIANTS[name](dict(tables)).items():  # variants replace, never edit
        if name == "parquet":
            frame.replace("", None).to_parquet(folder / "raw" / f"{table}.parquet", index=False)
        else:
            frame.to_csv(folder / "raw" / f"{table}.csv", index=False)
    (folder / "params.yaml").write_text(yaml.safe_dump(params))


def run_variant(folder: Path) -> str:
    for stage in STAGES:
        done = subprocess.run(
            [CHURN, *stage, "--params", "params.yaml"], cwd=folder, capture_output=True, text=True
        )
        if done.returncode:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            return f"FAILED at {stage[0]} (exit {done.returncode}): " + " | ".join(tail)
    model = json.loads((folder / "outputs/evaluate/metrics.json").read_text())["model"]
    snaps = pd.read_parquet(folder / "outputs/features/snapshots.parquet")
    latest = snaps[snaps["as_of"] == snaps["as_of"].max()]
    dated = latest["account_days_to_renewal"].notna().mean()
    by_anniversary = latest["account_days_to_anniversary"].notna().mean()
    return (
        f"ok  test ROC AUC {model['roc_auc']:.3f}, ECE {model['ece']:.3f}; latest week: "
        f"renewal dated {dated:.0%}, by anniversaries {by_anniversary:.0%}"
    )


def read_world(work: Path, style: str, accounts: int, seed: int) -> Tables:
    """The raw tables of the world with running periods written `style`, generated once."""
    world = work / ("world" if style == "mixed" else f"world-{style}")
    if not (world / "raw" / "accounts.csv").exists():
        subprocess.run(
            [CHURN, "generate", "--out", str(world), "--accounts", str(accounts)]
            + ["--seed", str(seed), "--running-periods", style],
            check=True,
            capture_output=True,
        )
    return {
        p.stem: pd.read_csv(p, dtype=str, keep_default_na=False)
        for p in (world / "raw").glob("*.csv")
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--work", type=Path, default=Path("outputs/benchmarks/exports"))
    parser.add_argument("--accounts", type=int, default=600)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--tuning-minutes", type=float, default=0.1)
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), default=list(VARIANTS))
    args = parser.parse_args()
    params = yaml.safe_load(args.params.read_text())
    params["train"]["tuning_minutes"] = args.tuning_minutes
    worlds: dict[str, Tables] = {}
    failed = 0
    for name in args.only:
        started = time.perf_counter()
        style = RUNNING.get(name, "mixed")
        if style not in worlds:
            worlds[style] = read_world(args.work, style, args.accounts, args.seed)
        folder = args.work / name
        write_variant(worlds[style], folder, name, params)
        outcome = run_variant(folder.resolve())
        failed += not outcome.startswith("ok")
        print(f"{name:26s} {outcome}  ({time.perf_counter() - started:.0f}s)", flush=True)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
