"""The risk curve against the demo world's truth: every horizon and the renewal, per seed.

    .venv/bin/python benchmarks/horizons.py --seeds 1 2 --accounts 2000 --params P
    .venv/bin/python benchmarks/horizons.py --seeds 1 --running-periods open billed --reuse

For each running-period style and seed: `churn generate`, `validate`, `features`, `train`,
`evaluate` in a work folder of its own (`benchmarks/quality.py`'s pipeline), then each target's
test rows (`outputs/evaluate/curve_predictions.parquet`: the 30-, 60-, 90-day horizons on the
headline's test weeks, 180 days and the renewal on their own) are joined with the true
probability of the same target (`truth/risk.parquet`) and scored side by side.

The issue's bar, per target: ECE <= 0.02, ROC AUC within 0.03 of the truth's on the same rows;
and every curve monotone (on the test rows of `predictions.parquet`). `--json` writes the table.
"""

from __future__ import annotations

import argparse
import itertools
import json
from pathlib import Path

import numpy as np
import pandas as pd
from quality import STYLES, pipeline, running_period_styles
from weekly import fit_to_truth, read_truth, unlabeled_mondays, weekly_model

from features.snapshots import read_features
from training.curve import predict_curve
from training.metrics import score, truth_agreement

TRUTH = {"by_renewal": "p_churn_by_renewal"}  # else p_churn_<target>
MAX_ECE, MAX_AUC_GAP = 0.02, 0.03


def judged(work: Path) -> pd.DataFrame:
    """Each target's test rows with the model's and the truth's probability."""
    rows = pd.read_parquet(work / "evaluate" / "curve_predictions.parquet")
    truth = pd.read_parquet(work / "truth" / "risk.parquet")
    for frame in (rows, truth):
        frame["as_of"] = pd.to_datetime(frame["as_of"])
    columns = ["account_id", "as_of", *(c for c in truth if c.startswith("p_churn_"))]
    joined = rows.merge(truth[columns], on=["account_id", "as_of"], how="left")
    joined["truth"] = [
        joined.at[i, TRUTH.get(t, f"p_churn_{t}")] for i, t in enumerate(joined["target"])
    ]
    missing = int(joined["truth"].isna().sum())
    if missing:
        print(f"  warning: {missing} test rows have no true probability; dropped")
    return joined[joined["truth"].notna()].reset_index(drop=True)


def table(joined: pd.DataFrame) -> pd.DataFrame:
    """Model and truth per target: rows, churn rate, ROC AUC, Brier, ECE, the AUC gap."""
    out = []
    for target, group in joined.groupby("target", sort=False):
        model = score(group["churned"], group["probability"], group["mrr"])
        change = (group["probability"] - group["raw_probability"]).abs()
        moved = ~np.isclose(group["probability"], group["raw_probability"])  # as evaluate counts
        truth = score(group["churned"], group["truth"], group["mrr"])
        out.append(
            {
                "target": target,
                "weeks": f"{group['as_of'].min():%Y-%m-%d}..{group['as_of'].max():%Y-%m-%d}",
                "rows": len(group),
                "churn_rate": group["churned"].mean(),
                "auc": model["roc_auc"],
                "truth_auc": truth["roc_auc"],
                "auc_gap": truth["roc_auc"] - model["roc_auc"],
                "brier": model["brier"],
                "truth_brier": truth["brier"],
                "ece": model["ece"],
                "truth_ece": truth["ece"],
                "mae_vs_truth": float(np.mean(np.abs(group["probability"] - group["truth"]))),
                "mean_probability": group["probability"].mean(),
                "repaired": float(moved.mean()),
                "repair_median": float(change[moved].median()) if moved.any() else 0.0,
                "repair_max": float(change.max()),
            }
        )
    return pd.DataFrame(out).set_index("target")


def scored_weeks(work: Path, params: Path) -> pd.DataFrame:
    """The latest unlabeled Mondays, scored by the weekly model's curve, against the truth.

    Per target: the median over the Mondays of Spearman, MAE, mean probability and mean truth
    (`training.metrics.truth_agreement`); the same on the test rows beside them.
    """
    snapshots, manifest, _ = read_features(work / "features")
    model, meta, _ = weekly_model(work, params)
    days = unlabeled_mondays(snapshots)
    rows = snapshots[snapshots["as_of"].isin(days)].reset_index(drop=True)
    curve = predict_curve(model, rows, meta.horizon(manifest.horizon_days))
    joined = pd.concat([rows[["account_id", "as_of"]], curve.add_prefix("model_")], axis=1)
    truth = read_truth(work).drop(columns=["life", "next_renewal"], errors="ignore")
    joined = joined.merge(truth, on=["account_id", "as_of"], how="inner")
    out = {}
    for column in (c for c in curve if c.startswith("p_churn_")):
        ok = joined[f"model_{column}"].notna() & joined[column].notna()
        per_day = [
            truth_agreement(day[column], day[f"model_{column}"])
            for _, day in joined[ok].groupby("as_of")
        ]
        out[column.removeprefix("p_churn_")] = pd.DataFrame(per_day).median()
    return pd.DataFrame(out).T.add_prefix("scored_")


def test_agreement(joined: pd.DataFrame) -> pd.DataFrame:
    """Per target: the median over the test Mondays of Spearman and MAE against the truth."""
    out = {}
    for target, group in joined.groupby("target", sort=False):
        per_day = [truth_agreement(d["truth"], d["probability"]) for _, d in group.groupby("as_of")]
        out[target] = pd.DataFrame(per_day).median()
    return pd.DataFrame(out).T.add_prefix("test_")


def ceilings(work: Path, joined: pd.DataFrame) -> pd.Series:
    """Per target: ROC AUC of a regressor fitted to the truth on the features (a ceiling).

    Fitted on every week before the target's test weeks (the true probability needs no label
    wait), it bounds what these features can tell; the gap between it and the truth's own AUC
    is what the export does not hold.
    """
    snapshots, manifest, _ = read_features(work / "features")
    truth = read_truth(work).drop(columns=["life", "next_renewal"], errors="ignore")
    rows = snapshots.merge(truth, on=["account_id", "as_of"], how="inner")
    for name in manifest.categorical:
        rows[name] = rows[name].astype("category")
    rows["as_of"] = pd.to_datetime(rows["as_of"])
    out = {}
    for target, group in joined.groupby("target", sort=False):
        column = TRUTH.get(target, f"p_churn_{target}")
        train = rows[(rows["as_of"] < group["as_of"].min()) & rows[column].notna()]
        fitted = fit_to_truth(train.assign(p_churn=train[column]), manifest.feature_names)
        test = group[["account_id", "as_of", "churned"]].merge(
            rows.drop(columns="churned"), on=["account_id", "as_of"]
        )
        out[target] = score(test["churned"], fitted.predict(test[manifest.feature_names]))[
            "roc_auc"
        ]
    return pd.Series(out, name="ceiling_auc")


def monotone(work: Path) -> float:
    """Share of the test rows of predictions.parquet whose curve never falls."""
    preds = pd.read_parquet(work / "evaluate" / "predictions.parquet")
    columns = sorted(
        (
            c
            for c in preds
            if c.startswith("p_churn_") and c.removeprefix("p_churn_")[:-1].isdigit()
        ),
        key=lambda c: int(c.removeprefix("p_churn_")[:-1]),
    )
    values = preds[columns].to_numpy()
    return float((np.diff(values, axis=1) >= 0).all(axis=1).mean())


def checks(frame: pd.DataFrame, monotone_share: float) -> list[str]:
    lines = [f"{'PASS' if monotone_share == 1.0 else 'FAIL'}  monotone on {monotone_share:.2%}"]
    for target, row in frame.iterrows():
        ok_ece, ok_auc = row.ece <= MAX_ECE, row.auc_gap <= MAX_AUC_GAP
        lines.append(f"{'PASS' if ok_ece else 'FAIL'}  {target:<11} ECE {row.ece:.4f} <= {MAX_ECE}")
        lines.append(
            f"{'PASS' if ok_auc else 'FAIL'}  {target:<11} AUC {row.auc:.4f} >= truth "
            f"{row.truth_auc:.4f} - {MAX_AUC_GAP}"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--running-periods", nargs="+", choices=STYLES, default=["mixed"])
    parser.add_argument("--work", type=Path, default=Path("outputs/benchmarks/horizons"))
    parser.add_argument("--params", type=Path, default=Path("params.yaml"))
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    parser.add_argument("--reuse", action="store_true")
    args = parser.parse_args()
    runs = {}
    for style, seed in itertools.product(running_period_styles(args.running_periods), args.seeds):
        work = args.work / f"accounts{args.accounts}-{style}-seed{seed}"
        print(f"running periods {style}, seed {seed}, {args.accounts} accounts -> {work}")
        seconds = pipeline(work, args.accounts, seed, style, args.params, args.reuse)
        rows = judged(work)
        frame, share = table(rows).join(ceilings(work, rows)), monotone(work)
        print(frame.round(4).to_string())
        weeks = pd.concat([scored_weeks(work, args.params), test_agreement(rows)], axis=1)
        shown = ["spearman", "mae", "mean_probability", "mean_truth"]
        weeks = weeks[
            [f"{w}_{c}" for c in shown for w in ("scored", "test") if f"{w}_{c}" in weeks]
        ]
        print("  latest Mondays (labels unknown) vs test Mondays, medians, against the truth:")
        print(weeks.round(4).to_string())
        lines = checks(frame, share)
        print("\n".join(lines))
        print("  seconds: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()) + "\n")
        runs[f"{style}-seed{seed}"] = {
            "table": frame.round(5).to_dict("index"),
            "monotone_share": share,
            "weeks": weeks.round(5).to_dict("index"),
            "checks": lines,
            "seconds": {k: round(v, 1) for k, v in seconds.items()},
        }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(runs, indent=2, default=float))
        print(f"figures written to {args.json}")


if __name__ == "__main__":
    main()
