"""Metrics shared by the promotion gate and the evaluate stage, and agreement with a truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
from numpy.typing import ArrayLike
from scipy.stats import spearmanr
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


def riskiest_first(rating: ArrayLike, seed: int = 0) -> np.ndarray:
    """A risk score from a 1-4 rating (1 = highest risk; never rated last), ties broken at random.

    Returns the rows' places as a float score, higher meaning riskier, so a rating can be
    judged with the same functions as a probability; `seed` fixes the order within a level.
    """
    level = pd.Series(np.asarray(rating, float)).fillna(np.inf).to_numpy()
    shuffle = np.random.default_rng(seed).permutation(len(level))
    order = np.lexsort((shuffle, level))  # riskiest (lowest rating) first
    place = np.empty(len(level))
    place[order] = np.arange(len(level), 0, -1, dtype=float)
    return place


def top_decile_capture(truth: ArrayLike, p: ArrayLike) -> float:
    """Share of the oracle's top-decile risk caught by `p`'s top tenth.

    The true probability summed over the tenth of rows `p` ranks riskiest, divided by the
    same sum over the tenth the truth itself ranks riskiest (1 = the oracle's list).
    """
    true = np.asarray(truth, float)
    n_top = max(1, int(np.ceil(len(true) / 10)))
    ours = np.argsort(-np.asarray(p, float), kind="stable")[:n_top]
    best = np.sort(true)[::-1][:n_top].sum()
    return float(true[ours].sum() / best) if best > 0 else float("nan")


def truth_agreement(truth: ArrayLike, p: ArrayLike, probability: bool = True) -> dict[str, float]:
    """How a risk score agrees with a known true probability (a simulated world's).

    Spearman rank correlation, top-decile capture, and, when `p` is a probability, the mean
    absolute error and the two means (calibration in the large).
    """
    true, score = np.asarray(truth, float), np.asarray(p, float)
    nan = float("nan")
    spearman = spearmanr(score, true).statistic if len(true) > 1 else nan
    return {
        "rows": float(len(true)),
        "spearman": float(spearman),
        "top_decile_capture": top_decile_capture(true, score),
        "mae": float(np.mean(np.abs(score - true))) if probability else nan,
        "mean_probability": float(score.mean()) if probability else nan,
        "mean_truth": float(true.mean()),
    }
