"""The `compare` DVC stage: the model beside the managers' 1-4 ratings on the test weeks."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from data.io import atomic_dir, write_json, write_parquet
from data.params import BaseParams
from evaluation.params import CompareParams
from evaluation.stages.common import records, save_figures
from features.manifest import Manifest
from features.snapshots import read_features
from training.bundle import EVALUATED, ModelMeta, load_model
from training.frames import feature_lists, labeled, split_frames
from training.metrics import score
from training.model import ChurnModel
from training.params import EvaluateParams
from training.splits import Splits
from training.tiers import assign_tiers
from training.tracking import attach_to_run

log = logging.getLogger(__name__)
SCORED_BY = {
    "test_weeks": "the evaluated model (never trained or calibrated on them)",
    "backtest_weeks": "each backtest origin's refit, on weeks after its data (out of sample)",
}


def compare(
    features_dir: Path,
    train_dir: Path,
    evaluate_dir: Path,
    explain_dir: Path,
    out_dir: Path,
    base: BaseParams,
    params: CompareParams,
    evaluate: EvaluateParams,
    mlflow_dir: Path,
    backtest_dir: Path | None = None,
) -> dict[str, Any]:
    """The model beside the managers' ratings on the test weeks; all figures to summary.json.

    `backtest_dir` (its weeks.parquet, each week scored out of sample by its origin's refit)
    adds older weeks to judge the disagreements at the renewal; without it only the test weeks.
    """
    import evaluation.compare as cmp
    from evaluation.plots import compare_figures, renewal_figure

    snapshots, manifest, _ = read_features(features_dir)
    model, meta = load_model(Path(train_dir) / EVALUATED)
    preds = _read_dated(Path(evaluate_dir) / "predictions.parquet")
    reasons = _read_dated(Path(explain_dir) / "reasons.parquet")
    rows = _comparison_rows(preds, snapshots, meta, evaluate.contact_feature)
    summary: dict[str, Any] = {
        "test_period": {"start": str(rows["as_of"].min()), "end": str(rows["as_of"].max())},
        "tiers": meta.tiers,
    }
    if not rows["manager_rating"].notna().any():
        return _nothing_to_compare(summary, rows, Path(out_dir))
    summary["status"] = "compared"
    summary["agreement"] = _agreement(rows, Path(train_dir), evaluate.ece_bins)
    summary["without_manager_features"] = _without_source(
        snapshots, manifest, model, meta, params.rating_source, rows, evaluate.ece_bins
    )
    by_age = cmp.by_rating_age(rows)
    managers = cmp.per_manager(rows)
    dis = cmp.disagreements(rows, reasons)
    summary["by_rating_age"] = records(by_age)
    summary["who_was_right"] = cmp.who_was_right(dis)
    summary["top_disagreements"] = {
        kind: records(part.head(params.top_disagreements))
        for kind, part in dis.groupby("kind", sort=True)
    }
    summary["renewal"] = _renewal(rows, backtest_dir, snapshots, manifest, meta, params)
    horizon = meta.horizon(manifest.horizon_days)
    figs = compare_figures(summary["agreement"], by_age, managers, horizon)
    figs["renewal"] = renewal_figure(summary["renewal"], horizon)
    with atomic_dir(Path(out_dir)) as tmp:
        (tmp / "plots").mkdir()
        write_json(summary, tmp / "summary.json")
        write_parquet(dis, tmp / "disagreements.parquet")
        write_parquet(managers, tmp / "per_manager.parquet")
        by_age.to_csv(tmp / "plots" / "by_rating_age.csv", index=False)
        save_figures(figs, tmp / "plots")
        attach_to_run(meta, mlflow_dir, {tmp: "compare"})
    _log_agreement(summary["agreement"])
    _log_renewal(summary["renewal"], horizon)
    return summary


def _nothing_to_compare(
    summary: dict[str, Any], rows: pd.DataFrame, out_dir: Path
) -> dict[str, Any]:
    """Without any manager rating: the status, and empty tables of the right shape."""
    import evaluation.compare as cmp

    summary["status"] = "nothing to compare: the export has no manager ratings"
    log.warning(summary["status"])
    with atomic_dir(out_dir) as tmp:
        write_json(summary, tmp / "summary.json")
        write_parquet(cmp.disagreements(rows.head(0), None), tmp / "disagreements.parquet")
        write_parquet(cmp.per_manager(rows.head(0)), tmp / "per_manager.parquet")
    return summary


def _read_dated(path: Path) -> pd.DataFrame:
    frame = pd.read_parquet(path)
    frame["as_of"] = pd.to_datetime(frame["as_of"]).dt.date
    return frame


def _backtest_rows(backtest_dir: Path, meta: ModelMeta) -> pd.DataFrame:
    """The backtest's scored weeks, tiered by the evaluated model's cut points.

    Every origin's refit is calibrated, so a cut point means the same probability there.
    """
    weeks = _read_dated(backtest_dir / "weeks.parquet")
    return weeks.assign(tier=assign_tiers(weeks["probability"], meta.tiers))


def _renewal(
    rows: pd.DataFrame,
    backtest_dir: Path | None,
    snapshots: pd.DataFrame,
    manifest: Manifest,
    meta: ModelMeta,
    params: CompareParams,
) -> dict[str, Any]:
    """Each disagreement list judged by churn by the renewal: test weeks, then backtest weeks."""
    import evaluation.renewal as rn
    from evaluation.compare import json_safe

    sources = {"test_weeks": rows}
    if backtest_dir is not None:
        sources["backtest_weeks"] = _backtest_rows(Path(backtest_dir), meta)
    judged, weeks = {}, {}
    for name, frame in sources.items():
        labeled = rn.with_renewal(frame, snapshots, manifest.grace_gap_days, manifest.export_date)
        judged[name] = rn.judge_lists(labeled, params.renewal_confidence, params.renewal_min_known)
        weeks[name] = rn.weeks_of(frame) | {"scored_by": SCORED_BY[name]}
    out = {
        "confidence": params.renewal_confidence,
        "min_known": params.renewal_min_known,
        "distance_bands_days": list(rn.RENEWAL_BANDS),
        "weeks": weeks,
    }
    return json_safe(out | rn.per_list(judged))


def _log_renewal(renewal: dict[str, Any], horizon_days: int) -> None:
    from evaluation.compare import KINDS
    from evaluation.renewal import describe

    for kind in KINDS:
        for source in renewal["weeks"]:
            log.info(describe(kind, source, renewal[kind][source], horizon_days))


def _agreement(rows: pd.DataFrame, train_dir: Path, bins: int) -> dict[str, Any]:
    """Tier against rating, beside the rating-and-contact baseline (calibration weeks)."""
    import evaluation.compare as cmp
    from evaluation.baselines import combined_baseline

    cal = pd.read_parquet(train_dir / "calibration_predictions.parquet")
    both = combined_baseline().fit(cal, cal["churned"].astype(int))
    rated = rows["manager_rating"].notna()
    return cmp.agreement(rows, both.predict_proba(rows[rated])[:, 1], bins)


def _log_agreement(a: dict[str, Any]) -> None:
    log.info(
        "tier vs rating: kappa %.3f (quadratic), Spearman %.3f; model AUC %.3f, rating %.3f",
        a["kappa_quadratic"],
        a["spearman"],
        a["metrics"]["model"]["roc_auc"],
        a["metrics"]["rating"]["roc_auc"],
    )


def _comparison_rows(
    preds: pd.DataFrame, snapshots: pd.DataFrame, meta: ModelMeta, contact_feature: str
) -> pd.DataFrame:
    """Test predictions with the tier, the rating's age and the days since the last contact."""
    context = {"rating_age_days": "rating_age_days", contact_feature: "days_since_contact"}
    keep = ["account_id", "as_of", *[c for c in context if c in snapshots.columns]]
    rows = preds.merge(
        snapshots[keep].rename(columns=context), on=["account_id", "as_of"], how="left"
    )
    for column in context.values():
        if column not in rows:
            rows[column] = pd.NA
        rows[column] = rows[column].astype("Float64")
    rows["tier"] = assign_tiers(rows["probability"], meta.tiers)
    rows["rating_probability"] = rows.get("manager_rating_probability", np.nan)
    return rows


def _without_source(
    snapshots: pd.DataFrame,
    manifest: Manifest,
    model: ChurnModel,
    meta: ModelMeta,
    source: str,
    rows: pd.DataFrame,
    bins: int,
) -> dict[str, Any]:
    """The model refitted without one family of features, on the same test rows."""
    from training.calibration import fit_calibrator
    from training.model import BoostedTrees

    features, categorical = feature_lists(manifest)
    dropped = [f["name"] for f in manifest.features if f["source"] == source]
    if not dropped:
        return {"dropped": [], "note": f"no `{source}` features in the manifest"}
    kept = [f for f in features if f not in dropped]
    frames = split_frames(labeled(snapshots, manifest), Splits.from_dict(meta.splits))
    trees = BoostedTrees(
        kept, [c for c in categorical if c in kept], meta.params, random_state=model.random_state
    ).fit(frames["train"], frames["train"]["churned"])
    cal = frames["calibration"]
    calibrator = fit_calibrator(
        trees, cal, cal["churned"].to_numpy(), meta.calibration_method or "none"
    )
    test = rows[["account_id", "as_of", "churned", "mrr", "probability"]].merge(
        frames["test"], on=["account_id", "as_of"], suffixes=("", "_test")
    )
    without = calibrator.predict_proba(test)[:, 1]
    with_m = score(test["churned"], test["probability"], test["mrr"], bins)
    without_m = score(test["churned"], without, test["mrr"], bins)
    return {
        "dropped": dropped,
        "with": {k: with_m[k] for k in ("roc_auc", "brier", "log_loss")},
        "without": {k: without_m[k] for k in ("roc_auc", "brier", "log_loss")},
        "auc_gain_from_managers": with_m["roc_auc"] - without_m["roc_auc"],
        "brier_gain_from_managers": without_m["brier"] - with_m["brier"],
    }
