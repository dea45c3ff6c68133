"""Metrics shared by the promotion gate and the evaluate stage."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, log_loss, roc_auc_score

EPS = 1e-6


def expected_calibration_error(y: ArrayLike, p: ArrayLike, bins: int = 10) -> float:
    """ECE over `bins` equal-mass bins: the count-weighted mean |observed - predicted|."""
    order = np.argsort(p, kind="stable")
    y_sorted, p_sorted = np.asarray(y, float)[order], np.asarray(p, float)[order]
    total = 0.0
    for y_bin, p_bin in zip(
        np.array_split(y_sorted, bins), np.array_split(p_sorted, bins), strict=True
    ):
        if len(y_bin):
            total += len(y_bin) * abs(y_bin.mean() - p_bin.mean())
    return float(total / len(y_sorted))


def reliability_table(y: ArrayLike, p: ArrayLike, bins: int = 10) -> pd.DataFrame:
    """Mean predicted vs observed churn in equal-mass bins (the reliability diagram's points)."""
    order = np.argsort(p, kind="stable")
    y_bins = np.array_split(np.asarray(y, float)[order], bins)
    p_bins = np.array_split(np.asarray(p, float)[order], bins)
    return pd.DataFrame(
        {
            "bin": np.arange(1, bins + 1),
            "predicted": [b.mean() if len(b) else np.nan for b in p_bins],
            "observed": [b.mean() if len(b) else np.nan for b in y_bins],
            "rows": [len(b) for b in y_bins],
        }
    )


def top_decile(y: ArrayLike, p: ArrayLike, mrr: ArrayLike | None = None) -> dict[str, float]:
    """Lift of the riskiest tenth, its ceiling (1 / base rate) and the churned MRR it holds."""
    labels = np.asarray(y, float)
    n_top = max(1, int(np.ceil(len(labels) / 10)))
    top = np.argsort(-np.asarray(p, float), kind="stable")[:n_top]
    base_rate = labels.mean()
    out = {
        "top_decile_lift": float(labels[top].mean() / base_rate) if base_rate > 0 else float("nan"),
        "top_decile_lift_ceiling": float(1 / base_rate) if base_rate > 0 else float("nan"),
    }
    if mrr is not None:
        churned_mrr = np.nan_to_num(np.asarray(mrr, float)) * labels
        total = churned_mrr.sum()
        out["top_decile_churned_mrr_share"] = (
            float(churned_mrr[top].sum() / total) if total > 0 else float("nan")
        )
    return out


def score(
    y: ArrayLike, p: ArrayLike, mrr: ArrayLike | None = None, bins: int = 10
) -> dict[str, float]:
    """All headline metrics of one set of probabilities on labeled rows."""
    labels = np.asarray(y, int)
    proba = np.clip(np.asarray(p, float), EPS, 1 - EPS)
    both = len(np.unique(labels)) == 2
    metrics = {
        "rows": float(len(labels)),
        "base_rate": float(labels.mean()),
        "roc_auc": float(roc_auc_score(labels, proba)) if both else float("nan"),
        "pr_auc": float(average_precision_score(labels, proba)) if both else float("nan"),
        "brier": float(brier_score_loss(labels, proba)),
        "log_loss": float(log_loss(labels, proba, labels=[0, 1])),
        "ece": expected_calibration_error(labels, proba, bins),
        "mean_probability": float(proba.mean()),
    }
    return metrics | top_decile(labels, proba, mrr)
