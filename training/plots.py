"""Evaluation curves as tidy frames (DVC plot data) and matplotlib figures (PNG)."""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")  # no display: figures only go to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from training.metrics import reliability_table  # noqa: E402

GRID = np.linspace(0, 1, 101)


def curves(
    frame: pd.DataFrame, columns: Mapping[str, str], bins: int = 10
) -> dict[str, pd.DataFrame]:
    """Reliability, ROC, PR and cumulative churned-MRR points for each named probability."""
    y = frame["churned"].astype(int).to_numpy()
    mrr = np.nan_to_num(frame["mrr"].to_numpy(dtype=float)) * y
    parts: dict[str, list[pd.DataFrame]] = {"reliability": [], "roc": [], "pr": [], "lift": []}
    for name, column in columns.items():
        p = frame[column].to_numpy(dtype=float)
        parts["reliability"].append(reliability_table(y, p, bins).assign(model=name))
        fpr, tpr, _ = roc_curve(y, p)
        parts["roc"].append(
            pd.DataFrame({"fpr": GRID, "tpr": np.interp(GRID, fpr, tpr)}).assign(model=name)
        )
        precision, recall, _ = precision_recall_curve(y, p)
        # precision_recall_curve returns recall decreasing; interp needs it increasing.
        prec = np.interp(GRID, recall[::-1], precision[::-1])
        parts["pr"].append(pd.DataFrame({"recall": GRID, "precision": prec}).assign(model=name))
        order = np.argsort(-p, kind="stable")
        share = np.arange(1, len(p) + 1) / len(p)
        caught = np.cumsum(mrr[order]) / max(mrr.sum(), 1e-12)
        churners = np.cumsum(y[order]) / max(y.sum(), 1)
        parts["lift"].append(
            pd.DataFrame(
                {
                    "share_of_accounts": GRID,
                    "share_of_churned_mrr": np.interp(GRID, share, caught),
                    "share_of_churners": np.interp(GRID, share, churners),
                }
            ).assign(model=name)
        )
    return {k: pd.concat(v, ignore_index=True) for k, v in parts.items()}


def _axes(title: str, xlabel: str, ylabel: str) -> tuple[Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(6, 5))
    ax.set(title=title, xlabel=xlabel, ylabel=ylabel, xlim=(0, 1), ylim=(0, 1))
    ax.grid(alpha=0.3)
    return fig, ax


def figures(data: dict[str, pd.DataFrame]) -> dict[str, Figure]:
    """One figure per curve, every model on it."""
    spec = {
        "reliability": ("Reliability (10 equal-mass bins)", "predicted", "observed"),
        "roc": ("ROC", "fpr", "tpr"),
        "pr": ("Precision-recall", "recall", "precision"),
        "lift": ("Churned MRR caught", "share_of_accounts", "share_of_churned_mrr"),
    }
    out = {}
    for name, (title, x, y) in spec.items():
        fig, ax = _axes(title, x.replace("_", " "), y.replace("_", " "))
        for model, part in data[name].groupby("model", sort=False):
            ax.plot(
                part[x], part[y], marker="o" if name == "reliability" else None, label=model, ms=3
            )
        if name in ("reliability", "roc", "lift"):
            ax.plot([0, 1], [0, 1], ls=":", color="grey", lw=1)
        if name == "reliability":
            top = float(np.nanmax(data[name][[x, y]].to_numpy()))
            ax.set(xlim=(0, min(1, top * 1.1)), ylim=(0, min(1, top * 1.1)))
        ax.legend(fontsize=8)
        fig.tight_layout()
        out[name] = fig
    return out
