"""The risk curve judged: each horizon and the renewal on its own test weeks, and its figures.

A horizon no longer than the headline's is judged on the headline's test weeks; a longer one
and the renewal on their own (earlier) weeks, whose labels are known (`training/curve_fit.py`).
The probabilities judged are the curve as delivered: after the monotone repair.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd

from features.labels import curve_labels, probability_column
from features.manifest import Manifest
from training.curve import RENEWAL, RiskCurve, predict_curve, probability_of
from training.curve_fit import target_rows
from training.metrics import reliability_table, score
from training.model import ChurnModel
from training.splits import Period

CURVE_TEST = "curve_predictions.parquet"  # evaluate's rows of every target on its test weeks


def with_curve(
    preds: pd.DataFrame, model: ChurnModel, frame: pd.DataFrame, manifest: Manifest
) -> pd.DataFrame:
    """`preds` (rows of `frame`) with the curve's probabilities, labels and next renewal."""
    curve = predict_curve(model, frame, manifest.horizon_days).reset_index(drop=True)
    horizons = _horizons(model, manifest)
    labels = curve_labels(frame, horizons, manifest.grace_gap_days, manifest.export_date)
    labels = labels.reset_index(drop=True)
    return pd.concat([preds.reset_index(drop=True), curve, labels], axis=1)


def _horizons(model: ChurnModel, manifest: Manifest) -> list[int]:
    curve: RiskCurve | None = getattr(model, "curve_", None)
    return list(curve.horizons) if curve is not None else [manifest.horizon_days]


def judged_rows(
    model: ChurnModel, snapshots: pd.DataFrame, manifest: Manifest, headline: Period
) -> pd.DataFrame:
    """Every target's test rows: target, ids, label, probability (repaired) and raw probability."""
    curve: RiskCurve | None = getattr(model, "curve_", None)
    if curve is None:
        return pd.DataFrame()
    out = []
    for target in curve.targets:
        period = curve.periods.get(target)
        start, end = (
            (dt.date.fromisoformat(period["test_start"]), dt.date.fromisoformat(period["test_end"]))
            if period
            else (headline.start, headline.end)
        )
        if target == RENEWAL and RENEWAL not in curve.models:
            continue
        rows = target_rows(snapshots, manifest, target)
        rows = rows[(rows["as_of"] >= start) & (rows["as_of"] <= end)].reset_index(drop=True)
        raw = curve.raw(rows, model.predict_proba(rows)[:, 1])
        column = probability_of(target)
        out.append(
            pd.DataFrame(
                {
                    "target": target,
                    "account_id": rows["account_id"],
                    "as_of": rows["as_of"],
                    "churned": rows["churned"].astype(int),
                    "probability": curve.repaired(rows, raw)[column].to_numpy(),
                    "raw_probability": raw[column].to_numpy(),
                    "mrr": rows["mrr"].astype(float) if "mrr" in rows else np.nan,
                }
            )
        )
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def curve_metrics(rows: pd.DataFrame, bins: int) -> dict[str, Any]:
    """ROC AUC, Brier, ECE (and the rest of `score`) per target, with its weeks and repairs."""
    out: dict[str, Any] = {}
    for target, group in rows.groupby("target", sort=False):
        figures = score(group["churned"], group["probability"], group["mrr"], bins)
        moved = ~np.isclose(group["probability"], group["raw_probability"])
        out[str(target)] = figures | {
            "test_start": str(group["as_of"].min()),
            "test_end": str(group["as_of"].max()),
            "repaired_share": float(moved.mean()),
        }
    return out


def monotone_share(preds: pd.DataFrame, horizons: list[int]) -> float:
    """Share of rows whose curve never falls from one horizon to the next (1.0: all)."""
    columns = [probability_column(h) for h in horizons if probability_column(h) in preds]
    if len(columns) < 2:
        return 1.0
    values = preds[columns].to_numpy()
    return float((np.diff(values, axis=1) >= -1e-12).all(axis=1).mean())


def curve_figures(rows: pd.DataFrame, bins: int) -> dict[str, Any]:
    """Reliability of every target on its test weeks, and AUC and ECE per target."""
    import matplotlib.pyplot as plt

    if rows.empty:
        return {}
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.5))
    targets = list(dict.fromkeys(rows["target"]))
    top = 0.0
    for target in targets:
        group = rows[rows["target"] == target]
        table = reliability_table(group["churned"], group["probability"], bins)
        left.plot(table["predicted"], table["observed"], "o-", label=target)
        top = max(top, float(table["predicted"].max()), float(table["observed"].max()))
    left.plot([0, top], [0, top], color="grey", linestyle=":", label="perfect")
    left.set(title="Reliability per horizon (test weeks)", xlabel="Predicted", ylabel="Churned")
    left.legend(fontsize=8)
    metrics = curve_metrics(rows, bins)
    auc = [metrics[t]["roc_auc"] for t in targets]
    ece = [metrics[t]["ece"] for t in targets]
    x = np.arange(len(targets))
    right.bar(x - 0.2, auc, 0.4, label="ROC AUC")
    twin = right.twinx()
    twin.bar(x + 0.2, ece, 0.4, color="tab:orange", label="ECE")
    right.set_xticks(x, targets)
    right.set(title="ROC AUC (left axis) and ECE (right axis)", ylim=(0.5, 1.0))
    twin.set_ylim(0, max(0.05, max(ece) * 1.2))
    twin.axhline(0.02, color="tab:orange", linestyle=":", linewidth=1)
    fig.tight_layout()
    return {"curve": fig}
