"""The monitor's charts: expected vs realized churn by week, calibration, feature drift."""

from __future__ import annotations

from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

from monitoring.realized import AS_SCORED, REPLAYED  # noqa: E402

STYLE: dict[str, dict[str, Any]] = {
    AS_SCORED: {"marker": "o", "color": "#1f4e79", "label": "as scored"},
    REPLAYED: {"marker": "s", "color": "#7f8c8d", "label": "replayed", "mfc": "none"},
}


def expected_vs_realized(weeks: pd.DataFrame, horizon_days: int = 90) -> Any:
    """Expected (mean predicted) and realized churn rate per week, by list source."""
    fig, ax = plt.subplots(figsize=(7.5, 3.4))
    for source, style in STYLE.items():
        part = weeks[weeks["source"] == source].sort_values("as_of")
        if part.empty:
            continue
        dates = pd.to_datetime(part["as_of"])
        label = style["label"]
        kw: dict[str, Any] = {k: v for k, v in style.items() if k != "label"}
        ax.plot(dates, part["realized_rate"], linestyle="-", ms=4, **kw, label=f"{label}: realized")
        ax.plot(
            dates,
            part["expected_rate"],
            linestyle=":",
            ms=3,
            **{**kw, "mfc": "white"},
            label=f"{label}: expected",
        )
        inside = part[part["in_sample"].astype(bool)]
        if len(inside):
            ax.scatter(
                pd.to_datetime(inside["as_of"]),
                inside["realized_rate"],
                s=60,
                facecolors="none",
                edgecolors="#c0392b",
                label="in-sample (not judged)",
            )
    ax.set_ylabel(f"{horizon_days}-day churn rate")
    ax.set_title("Expected vs realized churn by scored week", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    handles, labels = ax.get_legend_handles_labels()
    unique = dict(zip(labels, handles, strict=True))
    ax.legend(unique.values(), unique.keys(), fontsize=7, ncol=3, frameon=False)
    fig.autofmt_xdate()
    return fig


def calibration_weeks(
    by_week: pd.DataFrame, recalibrated: pd.DataFrame | None, horizon_days: int = 90
) -> Any:
    """The champion re-scoring the labeled weeks after its training: predicted vs realized."""
    fig, ax = plt.subplots(figsize=(7.5, 3.2))
    dates = pd.to_datetime(by_week["as_of"])
    ax.plot(dates, by_week["churn_rate"], "-", color="#1f4e79", label="realized churn rate")
    ax.plot(dates, by_week["mean_predicted"], ":", color="#c0392b", label="champion: predicted")
    if recalibrated is not None and len(recalibrated):
        ax.plot(
            pd.to_datetime(recalibrated["as_of"]),
            recalibrated["mean_predicted"],
            "--",
            color="#27ae60",
            label="recalibrated: predicted",
        )
    ax.set_ylabel(f"{horizon_days}-day churn rate")
    ax.set_title("Calibration on labeled weeks the trees never saw", fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=7, frameon=False)
    fig.autofmt_xdate()
    return fig


def feature_psi(drift: pd.DataFrame, max_psi: float, top: int = 15) -> Any:
    """The newest week's largest feature PSIs, drifting ones in red."""
    part = drift.head(top).iloc[::-1]
    fig, ax = plt.subplots(figsize=(7.5, 0.28 * len(part) + 1))
    colors = ["#c0392b" if d else "#95a5a6" for d in part["drifting"]]
    ax.barh(part["feature"], part["psi"], color=colors)
    ax.axvline(max_psi, linestyle=":", color="black", lw=1)
    ax.set_xlabel("Population stability index vs the training rows")
    ax.tick_params(axis="y", labelsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    return fig
