"""The weeks the weekly run scores, judged against the demo world's true churn probability.

Used by `benchmarks/quality.py`. The product is the call list of the latest Monday, whose
90-day label is not known yet; the test weeks lie months before the export. So the latest
`SCORED_WEEKS` Mondays without labels are scored with the model `churn score` would use (the
same `serving.models.load_scoring_model` call, with the params file's `score.model`: the
registry's champion, or `outputs/train` when there is none or `score.model: train`), on the
same feature rows, and compared with `truth/risk.parquet` (joined on account_id, as_of, life)
week by week. `churn score --as-of` is run once, on the latest Monday, to check that the
probabilities are exactly those of the weekly run (the other weeks would cost ~20 s each).

The managers' rating is the baseline where a rating can be judged (rank correlation, top-decile
capture): rating 1 first, never rated last, ties broken at random with a fixed seed.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.params import load_section, read_params
from features.manifest import Manifest
from features.snapshots import read_features
from serving.models import load_scoring_model
from serving.params import ScoreParams
from training.bundle import ModelMeta, load_model
from training.metrics import riskiest_first, truth_agreement
from training.params import EvaluateParams

SCORED_WEEKS = 13
RATING_SEED = 0
FIGURES = ["spearman", "top_decile_capture", "mae", "mean_probability", "mean_truth"]


def weekly_model(work: Path, params: Path) -> tuple[Any, ModelMeta, str]:
    """The model `churn score` would load for this work folder, and a line saying which."""
    source = load_section(read_params(params), "score", ScoreParams, str(params)).model
    local = ModelMeta.load(work / "train" / "production" / "model.json")
    name = local.model_name
    model, meta = load_scoring_model(work / "train", work / "mlflow", source)
    this_run = f"this run's train (v{local.model_version}, gate: {local.gate.get('reason')})"
    if source == "train":
        said = f"score.model: train -> {this_run}"
    elif meta.mlflow_run_id == local.mlflow_run_id:
        said = f"champion {name} v{meta.model_version} = {this_run}"
        if meta.alias != "champion":
            said = f"no champion registered -> {this_run}"
    else:
        said = f"champion {name} v{meta.model_version} (run {meta.mlflow_run_id}), not {this_run}"
    return model, meta, said


def unlabeled_mondays(snapshots: pd.DataFrame, n: int = SCORED_WEEKS) -> list[dt.date]:
    """The latest `n` snapshot dates whose labels are all unknown (what the weekly run scores)."""
    known = snapshots["churned"].notna().groupby(snapshots["as_of"]).any()
    return sorted(known.index[~known.to_numpy()])[-n:]


def with_truth(rows: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """`rows` joined with the true probability on account_id, as_of and life."""
    keys = ["account_id", "as_of", "life"]
    joined = rows.merge(truth[[*keys, "p_churn"]], on=keys, how="left", validate="one_to_one")
    missing = int(joined["p_churn"].isna().sum())
    if missing:
        print(f"  warning: {missing} scored rows have no true probability; dropped")
    return joined[joined["p_churn"].notna()].reset_index(drop=True)


def read_truth(work: Path) -> pd.DataFrame:
    truth = pd.read_parquet(work / "truth" / "risk.parquet")
    truth["as_of"] = pd.to_datetime(truth["as_of"]).dt.date
    return truth


def per_monday(rows: pd.DataFrame, rating: str | None) -> pd.DataFrame:
    """The four figures per Monday for `probability` (and the rating's two where it has some)."""
    out = []
    for day, week in rows.groupby("as_of", sort=True):
        figures = truth_agreement(week["p_churn"], week["probability"])
        line: dict[str, Any] = {"as_of": str(day)} | figures
        if rating is not None:
            risk = riskiest_first(week[rating], RATING_SEED)
            agree = truth_agreement(week["p_churn"], risk, probability=False)
            line["rating_spearman"] = agree["spearman"]
            line["rating_top_decile_capture"] = agree["top_decile_capture"]
        out.append(line)
    return pd.DataFrame(out)


def summarise(weeks: pd.DataFrame) -> dict[str, float]:
    """The median of each figure over the Mondays (rows: their median count)."""
    return {c: float(weeks[c].median()) for c in weeks.columns if c != "as_of"}


def score_check(work: Path, params: Path, churn: str, day: dt.date, rows: pd.DataFrame) -> str:
    """Run `churn score --as-of day` as the weekly run does; its probabilities must equal ours."""
    args = ["--features", str(work / "features"), "--train", str(work / "train")]
    args += ["--out", str(work / "score"), "--as-of", str(day), "--params", str(params)]
    args += ["--mlflow", str(work / "mlflow")]
    subprocess.run([churn, "score", *args], check=True)
    scores = pd.read_parquet(work / "score" / str(day) / "scores.parquet")
    both = rows[["account_id", "probability"]].merge(
        scores[["account_id", "probability"]], on="account_id", suffixes=("", "_cli")
    )
    gap = float(np.abs(both["probability"] - both["probability_cli"]).max())
    if len(both) != len(scores) or len(both) != len(rows) or gap > 1e-9:
        raise SystemExit(
            f"churn score --as-of {day} differs from the in-process scores: "
            f"{len(scores)} vs {len(rows)} rows, largest difference {gap:.2e}"
        )
    return f"churn score --as-of {day}: same {len(rows)} probabilities (max diff {gap:.1e})"


def fit_to_truth(rows: pd.DataFrame, columns: list[str]) -> Any:
    """A LightGBM regressor of the true probability `p_churn` on `columns`: a ceiling."""
    import lightgbm as lgb

    return lgb.LGBMRegressor(
        n_estimators=800, learning_rate=0.03, num_leaves=31, min_child_samples=50, verbose=-1
    ).fit(rows[columns], rows["p_churn"])


def latest_ceilings(
    work: Path, snapshots: pd.DataFrame, truth: pd.DataFrame, days: list[dt.date]
) -> dict[str, dict[str, float]]:
    """What these features can tell on the latest week: regressors fitted to the truth itself.

    One on the training weeks (the rows the weekly model learned from), one on every week
    before the scored ones (what a model refitted on all labeled weeks could at best reach).
    """
    manifest = Manifest.load(work / "features" / "manifest.json")
    meta = ModelMeta.load(work / "train" / "model" / "model.json")  # the evaluated
    names = manifest.feature_names
    rows = with_truth(snapshots, truth)
    for name in manifest.categorical:
        rows[name] = rows[name].astype("category")
    week = rows[rows["as_of"] == days[-1]]
    fits = {
        "ceiling, train weeks": rows["as_of"] <= dt.date.fromisoformat(meta.splits["train_end"]),
        "ceiling, all earlier weeks": rows["as_of"] < days[0],
    }
    out = {}
    for name, mask in fits.items():
        fitted = fit_to_truth(rows[mask], names)
        p = pd.Series(np.clip(fitted.predict(week[names]), 1e-6, 1 - 1e-6), index=week.index)
        out[name] = truth_agreement(week["p_churn"], p)
    return out


def scored_weeks(work: Path, params: Path, churn: str, test_rows: pd.DataFrame) -> dict[str, Any]:
    """The figures of the latest unlabeled Mondays and of the test weeks, by the weekly model."""
    snapshots, _, _ = read_features(work / "features")
    rating = load_section(read_params(params), "evaluate", EvaluateParams).rating_feature
    rating = rating if rating in snapshots.columns else None
    model, meta, said = weekly_model(work, params)
    truth = read_truth(work)
    days = unlabeled_mondays(snapshots)
    if len(days) < SCORED_WEEKS:
        print(f"  warning: only {len(days)} Mondays without labels")
    test = snapshots.merge(test_rows, on=["account_id", "as_of"], how="inner")
    scored = snapshots[snapshots["as_of"].isin(days)].reset_index(drop=True)
    # The model fitted on the training period alone, whose test weeks vouch for the recipe.
    evaluated, _ = load_model(work / "train" / "model")
    judged = with_truth(scored, truth)
    judged_evaluated = judged.assign(probability=evaluated.predict_proba(judged)[:, 1])
    scored["probability"] = model.predict_proba(scored)[:, 1]
    test["probability"] = evaluated.predict_proba(test)[:, 1]  # unseen by the evaluated model only
    weeks = {
        "scored": per_monday(with_truth(scored, truth), rating),
        "scored_evaluated": per_monday(judged_evaluated, rating),
        "test": per_monday(with_truth(test, truth), rating),
    }
    check = score_check(work, params, churn, days[-1], scored[scored["as_of"] == days[-1]])
    return {
        "model": said,
        "model_version": meta.model_version,
        "model_alias": meta.alias,
        "check": check,
        "mondays": [str(d) for d in days],
        "scored_median": summarise(weeks["scored"]),
        "latest": weeks["scored"].iloc[-1].drop("as_of").astype(float).to_dict(),
        "scored_median_evaluated": summarise(weeks["scored_evaluated"]),
        "latest_evaluated": (
            weeks["scored_evaluated"].iloc[-1].drop("as_of").astype(float).to_dict()
        ),
        "data_through": meta.data_through,
        "test_median": summarise(weeks["test"]),
        **latest_ceilings(work, snapshots, truth, days),
        "scored_per_monday": weeks["scored"].to_dict("records"),
        "test_per_monday": weeks["test"].to_dict("records"),
    }
