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

from serving.curves import curve_horizons, renewal_of  # noqa: E402
from serving.formats import until  # noqa: E402

TIER_COLORS = {1: "#c0392b", 2: "#e67e22", 3: "#f1c40f", 4: "#27ae60"}
RENEWAL_COLOR = "#2d5b8a"


def png_uri(data: bytes) -> str:
    """A PNG's bytes as a data URI."""
    return "data:image/png;base64," + base64.b64encode(data).decode("ascii")


def _png(fig: Any, dpi: int = 100, colors: int | None = None) -> str:
    """The figure as a PNG data URI; `colors`: a palette that small (a fraction of the bytes)."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    plt.close(fig)
    if colors is not None:
        from PIL import Image

        image = Image.open(io.BytesIO(buffer.getvalue())).convert("RGB").quantize(colors)
        buffer = io.BytesIO()
        image.save(buffer, format="png", optimize=True)
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


def curve_sparklines(frame: pd.DataFrame) -> list[tuple[str, str]]:
    """Per scores row, a small line of P(churn within each horizon) with the renewal marked.

    Returns each picture and its text (for `alt`). Every row shares one scale, 0 to the
    highest point of the rows rounded up to 10%, so the lines compare at a glance.
    """
    horizons = curve_horizons(frame.columns)
    values = frame[[f"p_churn_{h}d" for h in horizons]].to_numpy(dtype=float)
    top = float(np.nanmax(values, initial=0.0))
    top = min(1.0, max(0.1, np.ceil(top * 10 - 1e-9) / 10))
    renewals = [renewal_of(r) for r in frame.to_dict("records")]
    return [_sparkline(horizons, p, r, top) for p, r in zip(values, renewals, strict=True)]


def _sparkline(
    horizons: list[int], p: np.ndarray, renewal: dict[str, Any], top: float
) -> tuple[str, str]:
    fig, ax = plt.subplots(figsize=(2.0, 0.8))
    x, y = [0, *horizons], [0.0, *p]
    ax.fill_between(x, y, color=TIER_COLORS[1], alpha=0.12, lw=0)
    ax.plot(x, y, color=TIER_COLORS[1], lw=1.3)
    ax.plot(horizons, p, "o", ms=2.6, color=TIER_COLORS[1])
    days, by_renewal = renewal["days_to_renewal"], renewal["p_churn_by_renewal"]
    said = ", ".join(f"{v:.0%}" for v in p)
    alt = f"Chance of churn within {', '.join(map(str, horizons))} days: {said}"
    if days is not None and by_renewal is not None:
        beyond = days > horizons[-1]  # drawn at the edge, pointing on
        at = horizons[-1] * 1.03 if beyond else max(days, 0)  # a lapse is due now
        if not beyond:
            ax.axvline(at, color=RENEWAL_COLOR, lw=1, ls="--")
        ax.plot(
            [at], [by_renewal], ">" if beyond else "D", ms=4, color=RENEWAL_COLOR, clip_on=False
        )
        alt += f"; {by_renewal:.0%} by the renewal ({until(days)})"
    ax.set_xlim(0, horizons[-1] * 1.03)
    ax.set_ylim(0, top * 1.05)
    ax.set_xticks(horizons, [str(h) for h in horizons], fontsize=7.5)
    ax.set_yticks([0, top], ["0", f"{top:.0%}"], fontsize=7.5)
    ax.tick_params(length=2, pad=1, colors="#616e7c")
    ax.spines[["top", "right"]].set_visible(False)
    ax.spines[["left", "bottom"]].set_color("#9aa5b1")
    return _png(fig, dpi=130, colors=16), alt
