"""Evaluation curves as tidy frames (DVC plot data) and matplotlib figures (PNG)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")  # no display: figures only go to files
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from sklearn.metrics import precision_recall_curve, roc_curve  # noqa: E402

from evaluation.compare import LEVELS  # noqa: E402
from evaluation.renewal import TOO_FEW  # noqa: E402
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


def explain_figures(
    shap_values: Any,
    importance: pd.DataFrame,
    dependence: int,
    categories: Mapping[str, list[str]],
    top: int = 15,
) -> dict[str, Figure]:
    """Global drivers: mean |contribution| bars, SHAP's beeswarm, dependence of the top few.

    `shap_values` is a `shap.Explanation` whose feature names are the manifest descriptions
    and whose categorical data are level codes; `categories` names the levels.
    """
    import shap

    figs: dict[str, Figure] = {}
    head = importance.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(head) + 1.5))
    ax.barh(head["description"], head["mean_abs_probability"] * 100, color="#4c72b0")
    ax.set_xlabel("Mean |contribution| to the churn probability (percentage points)")
    ax.set_title("What moves the churn probability most")
    fig.tight_layout()
    figs["importance"] = fig
    plt.figure(figsize=(9, 7))
    shap.plots.beeswarm(shap_values, max_display=top, show=False, plot_size=None)
    plt.title("Each dot an account-week: contribution to the log-odds of churn")
    plt.tight_layout()
    figs["beeswarm"] = plt.gcf()
    names = list(getattr(shap_values, "feature_names", []))
    for _, row in importance.head(dependence).iterrows():
        plt.figure(figsize=(6, 4))
        shap.plots.scatter(shap_values[:, names.index(row["description"])], show=False)
        levels = categories.get(row["feature"])
        if levels:
            plt.xticks(range(len(levels)), levels, rotation=30, ha="right")
        plt.title(row["description"])
        plt.tight_layout()
        figs[f"dependence_{row['feature']}"] = plt.gcf()
    return figs


_WIDTH = 0.38  # bars side by side


def compare_figures(
    summary: dict[str, Any], by_age: pd.DataFrame, managers: pd.DataFrame, horizon_days: int = 90
) -> dict[str, Figure]:
    """Heat-map of tier x rating, churn per level, rating quality by age, per manager."""
    if "confusion" not in summary:
        return {}
    figs = {
        "tier_vs_rating": _tier_vs_rating(np.asarray(summary["confusion"])),
        "churn_by_level": _churn_by_level(summary, horizon_days),
        "rating_age": _rating_age(by_age),
    }
    shown = managers.dropna(subset=["rating_auc"]).sort_values("rating_auc")
    if len(shown):
        book = summary.get("metrics", {}).get("rating", {}).get("roc_auc")
        figs["per_manager"] = _per_manager(shown, book)
    return figs


def _tier_vs_rating(matrix: np.ndarray) -> Figure:
    fig, ax = plt.subplots(figsize=(5.5, 4.5))
    im = ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        ax.text(
            j,
            i,
            f"{count:,}",
            ha="center",
            va="center",
            color="white" if count > matrix.max() / 2 else "black",
        )
    ax.set_xticks(range(4), [str(v) for v in LEVELS])
    ax.set_yticks(range(4), [str(v) for v in LEVELS])
    ax.set_xlabel("Manager rating (1 = highest risk)")
    ax.set_ylabel("Model tier (1 = highest risk)")
    ax.set_title("Where the model and the managers agree (account-weeks)")
    fig.colorbar(im, ax=ax)
    fig.tight_layout()
    return fig


def _churn_by_level(summary: dict[str, Any], horizon_days: int) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 4))
    x = np.arange(4)
    tiers = [r["churn_rate"] or 0 for r in summary["churn_by_tier"]]
    ratings = [r["churn_rate"] or 0 for r in summary["churn_by_rating"]]
    ax.bar(x - _WIDTH / 2, np.array(tiers) * 100, _WIDTH, label="model tier")
    ax.bar(x + _WIDTH / 2, np.array(ratings) * 100, _WIDTH, label="manager rating")
    ax.set_xticks(x, [str(v) for v in LEVELS])
    ax.set_xlabel("Level (1 = highest risk)")
    ax.set_ylabel(f"Churned within {horizon_days} days (%)")
    ax.set_title("Churn by model tier and by manager rating")
    ax.legend()
    fig.tight_layout()
    return fig


def _rating_age(by_age: pd.DataFrame) -> Figure:
    fig, ax = plt.subplots(figsize=(7, 4))
    x = np.arange(len(by_age))
    ax.bar(x - _WIDTH / 2, by_age["rating_auc"].fillna(0), _WIDTH, label="manager rating")
    ax.bar(x + _WIDTH / 2, by_age["model_auc"].fillna(0), _WIDTH, label="model")
    ax.axhline(0.5, color="grey", lw=1, ls="--")
    ax.set_xticks(
        x, [f"{b}\n({n:,} rows)" for b, n in zip(by_age["bucket"], by_age["rows"], strict=True)]
    )
    ax.set_ylabel("ROC AUC")
    ax.set_ylim(0.3, 1.0)
    ax.set_title("How well each ranks churn, by the age of the rating")
    ax.legend()
    fig.tight_layout()
    return fig


def _per_manager(shown: pd.DataFrame, book: float | None) -> Figure:
    fig, ax = plt.subplots(figsize=(6, 0.32 * len(shown) + 1.5))
    ax.barh(shown["csm_id"].astype(str), shown["rating_auc"], color="#4c72b0")
    if book is not None:
        ax.axvline(book, color="black", lw=1, label=f"all managers {book:.2f}")
        ax.legend(loc="lower right")
    ax.axvline(0.5, color="grey", lw=1, ls="--")
    ax.set_xlabel("ROC AUC of the manager's ratings on their accounts")
    ax.set_title("How well each manager's ratings rank churn")
    fig.tight_layout()
    return fig


_LIST_NAMES = {
    "manager_sees_risk": "manager sees risk\n(rating 1-2, model tier 4)",
    "model_sees_risk": "model sees risk\n(model tier 1-2, rating 3-4)",
}


def renewal_figure(renewal: dict[str, Any], horizon_days: int = 90) -> Figure:
    """Each disagreement list's churn by the renewal (with its interval) beside the base rate."""
    sources = list(renewal["weeks"])
    fig, ax = plt.subplots(figsize=(8, 5))
    width = 0.7 / max(len(sources), 1)
    for j, source in enumerate(sources):
        for i, kind in enumerate(_LIST_NAMES):
            x = i + (j - (len(sources) - 1) / 2) * width
            label = f"{source.replace('_', ' ')} ({renewal['weeks'][source]['count']} weeks)"
            _renewal_marks(ax, x, width, renewal[kind][source], f"C{j}", label if i == 0 else None)
    ax.plot([], [], "k--", lw=1, label="base: every row at the same distance to its renewal")
    ax.plot([], [], "k:", lw=1, label="every row")
    ax.plot([], [], "ko", mfc="none", label=f"churned within {horizon_days} days")
    ax.set_xticks(range(len(_LIST_NAMES)), list(_LIST_NAMES.values()))
    ax.set_ylabel("Churned by the next renewal (%, rows whose outcome is known)")
    ax.set_ylim(bottom=0, top=ax.get_ylim()[1] * 1.25)
    ax.set_title(
        "Who was right at the renewal? Each disagreement, judged when the contract renewed"
    )
    ax.legend(fontsize=8, loc="upper right")
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return fig


def _renewal_marks(
    ax: plt.Axes, x: float, width: float, f: dict[str, Any], color: str, label: str | None
) -> None:
    """One list on one source: its rate and interval, the base rates, the horizon's rate."""
    for key, style in (("base_rate_same_distance", "--"), ("base_rate_all_rows", ":")):
        if f[key] is not None:
            ax.hlines(100 * f[key], x - width / 2, x + width / 2, color=color, ls=style, lw=1)
    if f["churn_rate_horizon"] is not None:
        ax.plot(x, 100 * f["churn_rate_horizon"], "o", mfc="none", color=color, ms=6)
    if f["churn_rate_by_renewal"] is None:
        return
    rate, (low, high) = f["churn_rate_by_renewal"], f["interval"]
    yerr = [[100 * (rate - low)], [100 * (high - rate)]]
    ax.errorbar(x, 100 * rate, yerr=yerr, fmt="s", color=color, capsize=4, label=label)
    ax.annotate(
        f"{f['known']:,} of {f['rows']:,} known\n"
        + (TOO_FEW if f["verdict"] == TOO_FEW else f"{f['verdict']} was right"),
        (x, 100 * high),
        xytext=(0, 6),
        textcoords="offset points",
        ha="center",
        fontsize=8,
    )
