"""Model quality against the demo world's true churn probability, on the same test rows.

    .venv/bin/python benchmarks/quality.py --seeds 1 2 --accounts 3000
    .venv/bin/python benchmarks/quality.py --seeds 3 --accounts 20000   # the 10-minute budget
    .venv/bin/python benchmarks/quality.py --seeds 1 --running-periods billed --json q.json

For each running-period style (`churn generate --running-periods`; only the generator's
default when it has no such option) and seed: `churn generate`, `validate`, `features`,
`train`, `evaluate` in a work folder of its own, then the test predictions are joined with
`truth/risk.parquet` (account_id, as_of) and scored. Pass `--reuse` to keep outputs that
already exist in the work folder.

The weeks the weekly run scores are judged too (`benchmarks/weekly.py`): the latest 13
Mondays, whose labels are unknown, scored by the model `churn score` uses, against the true
probability: Spearman rank correlation, the share of the oracle's top-decile risk captured,
MAE, mean probability vs mean truth; the median over the Mondays, the latest Monday alone,
and the test Mondays (median) beside them, with the managers' rating as a baseline. `--json`
writes these figures (and the test-week table) for the README.

Two reference rows are not models the pipeline could build, since they are fitted to the true
probability itself: `ceiling_features` (a LightGBM regressor on the same features, fitted on
the true probability of the training weeks) bounds what these features can tell, and
`ceiling_hidden` adds the world's hidden state (health, shocks, weeks without a conversation),
which no export shows. A gap between the model and the first is the model's; a gap between
the two is information the export does not hold. `--ablate` adds the features plus one hidden
variable at a time (`ceiling_features+budget`, ...): which part of the hidden state is missed.
"""

from __future__ import annotations

import argparse
import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from weekly import FIGURES, fit_to_truth, scored_weeks

from training.metrics import score

CHURN = str(Path(sys.executable).parent / "churn")
STYLES = ["billed", "open", "mixed"]
DEFAULT_STYLE = "default"  # the generator's own, when it has no --running-periods option


def run(step: str, args: list[str], done: Path, reuse: bool) -> float:
    if reuse and done.exists():
        print(f"  {step}: reused {done}")
        return 0.0
    started = time.perf_counter()
    subprocess.run([CHURN, step, *args], check=True)
    seconds = time.perf_counter() - started
    print(f"  {step}: {seconds:.0f}s")
    return seconds


def running_period_styles(wanted: list[str]) -> list[str]:
    """`wanted`, or ["default"] when `churn generate` has no `--running-periods` yet."""
    text = subprocess.run(
        [CHURN, "generate", "--help"], capture_output=True, text=True, check=True
    ).stdout
    if "--running-periods" in text:
        return wanted
    print(
        "churn generate has no --running-periods option yet: only the generator's default "
        f"style is run (asked for: {' '.join(wanted)})\n"
    )
    return [DEFAULT_STYLE]


def pipeline(
    work: Path, accounts: int, seed: int, style: str, params: Path, reuse: bool
) -> dict[str, float]:
    p = ["--params", str(params)]
    store = ["--mlflow", str(work / "mlflow")]  # the world's own registry, never the project's
    generate = ["--out", str(work), "--accounts", str(accounts), "--seed", str(seed)]
    if style != DEFAULT_STYLE:
        generate += ["--running-periods", style]
    seconds = {"generate": run("generate", generate, work / "truth" / "risk.parquet", reuse)}
    seconds["validate"] = run(
        "validate",
        ["--raw", str(work / "raw"), "--out", str(work / "validate"), *p],
        work / "validate" / "report.json",
        reuse,
    )
    seconds["features"] = run(
        "features",
        ["--validated", str(work / "validate"), "--out", str(work / "features"), *p],
        work / "features" / "manifest.json",
        reuse,
    )
    seconds["train"] = run(
        "train",
        ["--features", str(work / "features"), "--out", str(work / "train"), *p, *store],
        work / "train" / "model" / "model.json",
        reuse,
    )
    seconds["evaluate"] = run(
        "evaluate",
        [
            "--features",
            str(work / "features"),
            "--train",
            str(work / "train"),
            "--out",
            str(work / "evaluate"),
            *p,
            *store,
        ],
        work / "evaluate" / "metrics.json",
        False,
    )
    return seconds


def ceilings(
    work: Path, truth: pd.DataFrame, test: pd.DataFrame, ablate: bool = False
) -> pd.DataFrame:
    """Regressors fitted to the true probability: the features alone, and with hidden state.

    With `ablate`, also the features plus one hidden variable at a time: which part of the
    hidden state the export hides most.
    """
    manifest = json.loads((work / "features" / "manifest.json").read_text())
    model = json.loads((work / "train" / "model" / "model.json").read_text())
    features = [f["name"] for f in manifest["features"]]
    snaps = pd.read_parquet(work / "features" / "snapshots.parquet")
    snaps["as_of"] = pd.to_datetime(snaps["as_of"])
    rows = snaps.merge(truth, on=["account_id", "as_of"], how="inner")
    for f in manifest["features"]:
        if f["dtype"] == "category":
            rows[f["name"]] = rows[f["name"]].astype("category")
    train_end = pd.Timestamp(model["splits"]["train_end"])
    train = rows[rows["as_of"] <= train_end]
    keys = test[["account_id", "as_of"]]
    scored = keys.merge(rows, on=["account_id", "as_of"], how="left")
    hidden = [c for c in truth.columns if c.startswith("hidden_")]
    out = pd.DataFrame(index=test.index)
    candidates = {"ceiling_features": features}
    if hidden:
        candidates["ceiling_hidden"] = features + hidden
    if ablate:
        for h in hidden:
            candidates[f"ceiling_features+{h.removeprefix('hidden_')}"] = [*features, h]
    for name, columns in candidates.items():
        fitted = fit_to_truth(train, columns)
        out[f"{name}_probability"] = np.clip(fitted.predict(scored[columns]), 1e-6, 1 - 1e-6)
    return out


def compare(work: Path, ablate: bool = False) -> pd.DataFrame:
    preds = pd.read_parquet(work / "evaluate" / "predictions.parquet")
    truth = pd.read_parquet(work / "truth" / "risk.parquet").drop(columns="life")
    for frame in (preds, truth):
        frame["as_of"] = pd.to_datetime(frame["as_of"])
    joined = preds.merge(
        truth[["account_id", "as_of", "p_churn"]],
        on=["account_id", "as_of"],
        how="left",
        validate="one_to_one",
    )
    missing = int(joined["p_churn"].isna().sum())
    if missing:
        print(f"  warning: {missing} test rows have no true probability; dropped")
        joined = joined[joined["p_churn"].notna()].reset_index(drop=True)
    joined = pd.concat([joined, ceilings(work, truth, joined, ablate)], axis=1)
    columns = (
        {"model": "probability"}
        | {c.removesuffix("_probability"): c for c in joined.columns if c.endswith("_probability")}
        | {"truth": "p_churn"}
    )
    rows = []
    for name, column in columns.items():
        m = score(joined["churned"], joined[column], joined["mrr"])
        mae = float(np.mean(np.abs(joined[column] - joined["p_churn"])))
        rows.append(
            {
                "name": name,
                "roc_auc": m["roc_auc"],
                "brier": m["brier"],
                "log_loss": m["log_loss"],
                "ece": m["ece"],
                "mae_vs_truth": mae,
                "lift10": m["top_decile_lift"],
            }
        )
    return pd.DataFrame(rows).set_index("name")


def verdict(table: pd.DataFrame) -> list[str]:
    model, truth = table.loc["model"], table.loc["truth"]
    checks = {
        f"AUC {model.roc_auc:.4f} >= truth {truth.roc_auc:.4f} - 0.03": model.roc_auc
        >= truth.roc_auc - 0.03,
        f"ECE {model.ece:.4f} <= 0.02": model.ece <= 0.02,
        f"MAE vs truth {model.mae_vs_truth:.4f} <= 0.03": model.mae_vs_truth <= 0.03,
    }
    if "manager_rating" in table.index:
        rating = table.loc["manager_rating"]
        checks[f"AUC {model.roc_auc:.4f} > rating {rating.roc_auc:.4f}"] = (
            model.roc_auc > rating.roc_auc + 0.02
        )
        checks[f"Brier {model.brier:.4f} < rating {rating.brier:.4f}"] = model.brier < rating.brier
    return [f"{'PASS' if ok else 'FAIL'}  {text}" for text, ok in checks.items()]


def evaluated_keys(work: Path) -> pd.DataFrame:
    """The (account_id, as_of) rows `evaluate` scored as test weeks."""
    keys = pd.read_parquet(
        work / "evaluate" / "predictions.parquet", columns=["account_id", "as_of"]
    )
    return keys.assign(as_of=pd.to_datetime(keys["as_of"]).dt.date)


WEEKS = {
    "scored_median": "scored weeks (median)",
    "latest": "latest week",
    "scored_median_evaluated": "scored weeks (median), evaluated model",
    "latest_evaluated": "latest week, evaluated model",
    "test_median": "test weeks (median), evaluated model",
    "ceiling, train weeks": "latest week, ceiling on train weeks",
    "ceiling, all earlier weeks": "latest week, ceiling on all earlier",
}


def weekly_rows(style: str, seed: int, weekly: dict) -> list[dict]:
    """One row per kind of week: the model's four figures and the rating's two."""
    return [
        {"style": style, "seed": seed, "weeks": label}
        | {name: weekly[key][name] for name in FIGURES}
        | {
            name: weekly[key].get(name, float("nan"))
            for name in ("rating_spearman", "rating_top_decile_capture")
        }
        | {"rows": weekly[key]["rows"]}
        for key, label in WEEKS.items()
        if key in weekly
    ]


def weekly_table(rows: list[dict]) -> str:
    table = pd.DataFrame(rows).set_index(["style", "seed", "weeks"])
    short = {
        "top_decile_capture": "top10_capture",
        "mean_probability": "mean_p",
        "rating_spearman": "rating_spearman",
        "rating_top_decile_capture": "rating_top10",
    }
    return table.rename(columns=short).round(4).to_string()


def per_monday_table(weekly: dict) -> str:
    weeks = pd.DataFrame(weekly["scored_per_monday"]).set_index("as_of")
    return weeks.drop(columns=["rows"]).round(4).assign(rows=weeks["rows"].astype(int)).to_string()


def same_features(work: Path, accounts: int, styles: list[str], seed: int) -> str:
    """Whether every style's export of one world gave the very same feature table."""
    tables = {
        style: pd.read_parquet(
            work / f"accounts{accounts}-{style}-seed{seed}" / "features" / "snapshots.parquet"
        )
        for style in styles
    }
    first, *others = styles
    differ = [s for s in others if not tables[s].equals(tables[first])]
    said = "differ: " + ", ".join(differ) if differ else "identical"
    return f"seed {seed}: feature tables of {', '.join(styles)} exports {said}"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--accounts", type=int, default=3000)
    parser.add_argument(
        "--running-periods",
        nargs="+",
        choices=STYLES,
        default=STYLES,
        help="styles of running subscription periods to generate (churn generate)",
    )
    parser.add_argument("--work", type=Path, default=Path("outputs/benchmarks/quality"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--reuse", action="store_true")
    parser.add_argument(
        "--ablate", action="store_true", help="add the features plus each hidden variable alone"
    )
    args = parser.parse_args()
    styles = running_period_styles(args.running_periods)
    summary, rows = {}, []
    for style, seed in itertools.product(styles, args.seeds):
        work = args.work / f"accounts{args.accounts}-{style}-seed{seed}"
        print(f"running periods {style}, seed {seed}, {args.accounts} accounts -> {work}")
        seconds = pipeline(work, args.accounts, seed, style, args.params, args.reuse)
        started = time.perf_counter()
        table = compare(work, args.ablate)
        seconds["test table (ceilings)"] = time.perf_counter() - started
        print(table.round(4).to_string())
        lines = verdict(table)
        print("\n".join(lines))
        started = time.perf_counter()
        weekly = scored_weeks(work, args.params, CHURN, evaluated_keys(work))
        seconds["scored weeks"] = time.perf_counter() - started
        print(f"  weekly model: {weekly['model']}\n  check: {weekly['check']}")
        print(f"  latest {len(weekly['mondays'])} Mondays (labels unknown), by the weekly model:")
        print(per_monday_table(weekly))
        print(weekly_table(weekly_rows(style, seed, weekly)))
        print("  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + "\n")
        rows += weekly_rows(style, seed, weekly)
        summary[f"{style}-seed{seed}"] = {
            "style": style,
            "seed": seed,
            "work": str(work),
            "table": table.round(5).to_dict("index"),
            "checks": lines,
            "train_seconds": round(seconds["train"]),
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
            "weekly": weekly,
        }
    for seed in args.seeds:
        print(same_features(args.work, args.accounts, styles, seed))
    print(f"The weeks scored vs the test weeks ({args.accounts} accounts; against the truth):")
    print(weekly_table(rows))
    (args.work / f"summary-{args.accounts}.json").write_text(json.dumps(summary, indent=2))
    if args.json:
        figures = {
            "accounts": args.accounts,
            "running_periods": styles,
            "running_periods_asked": args.running_periods,
            "rows": rows,
            "runs": summary,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2, default=float))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
