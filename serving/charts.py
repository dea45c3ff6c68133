"""The report's charts, each a PNG data URI (the page carries them inline, no network)."""

from __future__ import annotations

import base64
import io
from typing import Any

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

TIER_COLORS = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f", 4: "#27ae60"}


def png_uri(data: bytes) -> str:
    """A PNG's bytes as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png(fig: Any) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    plt.close(fig)
    return png_uri(buffer.getvalue())


def tier_chart(accounts_by_tier: dict[str, int]) -> str:
    """Horizontal bars: accounts per model tier, tier 1 on top."""
    fig, ax = plt.subplots(figsize=(4.2, 2.4))
    levels = [1, 2, 3, 4]
    counts = [accounts_by_tier.get(str(t), 0) for t in levels]
    colors = [TIER_COLORS[t] for t in levels][::-1]
    ax.barh([f"Tier {t}" for t in levels][::-1], counts[::-1], color=colors)
    for i, c in enumerate(counts[::-1]):
        ax.text(c, i, f" {c:,}", va="center", fontsize=9)
    ax.set_xlabel("Accounts")
    ax.set_title("Accounts by model tier (1 = highest risk)", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def segment_chart(segments: dict[str, dict[str, float]], horizon_days: int) -> str:
    """Each segment's MRR with the part expected to churn within the horizon laid over it."""
    names = list(segments)
    fig, ax = plt.subplots(figsize=(6, 2.6))
    at_risk = [segments[n]["expected_churned_mrr"] for n in names]
    mrr = [segments[n]["mrr"] for n in names]
    y = np.arange(len(names))
    ax.barh(y, mrr, color="#d5dbe3", label="MRR")
    ax.barh(y, at_risk, color="#c0392b", label=f"expected churned MRR ({horizon_days} d)")
    ax.set_yticks(y, [n.replace("_", " ") for n in names])
    for i, (r, m) in enumerate(zip(at_risk, mrr, strict=True)):
        ax.text(m, i, f" {r / m:.0%} at risk" if m else "", va="center", fontsize=9)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.28), ncol=2, fontsize=8, frameon=False)
    ax.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax.set_xlim(0, max(mrr + [1.0]) * 1.25)
    ax.set_xlabel("Monthly recurring revenue")
    ax.spines[["top", "right"]].set_visible(False)
    return _png(fig)


def reliability_chart(reliability: pd.DataFrame) -> str:
    """Predicted chance against the share that churned, model and manager rating."""
    fig, ax = plt.subplots(figsize=(4, 4))
    for name, part in reliability.groupby("model", sort=False):
        if name in ("model", "manager_rating"):
            ax.plot(
                part["predicted"],
                part["observed"],
                "o-",
                ms=4,
                label="model" if name == "model" else "manager rating",
            )
    top = float(max(reliability["predicted"].max(), reliability["observed"].max()))
    ax.plot([0, top], [0, top], ":", color="grey", label="perfect")
    ax.set_xlabel("Predicted churn probability")
    ax.set_ylabel("Share that churned")
    ax.set_title("Reliability on the test weeks", fontsize=10)
    ax.legend(fontsize=8)
    return _png(fig)


def backtest_chart(backtest: pd.DataFrame, horizon_days: int) -> str:
    """The replayed meetings' precision by week (drawn by the training package)."""
    from evaluation.backtest import backtest_figure

    return _png(backtest_figure(backtest, horizon_days))
