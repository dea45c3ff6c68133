"""What the judging stages share: figures to files, tables to JSON, files to the model's run."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pandas as pd


def save_figures(figures: Mapping[str, Any], folder: Path) -> None:
    """Each figure to `folder/<name>.png`, then closed."""
    import matplotlib.pyplot as plt

    for name, fig in figures.items():
        fig.savefig(folder / f"{name}.png", dpi=110, bbox_inches="tight")
        plt.close(fig)


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON-ready rows (dates as text, missing as null)."""
    out = frame.copy()
    for column in out.columns:
        if out[column].dtype == object and len(out) and isinstance(out[column].iloc[0], dt.date):
            out[column] = out[column].astype(str)
    return json.loads(out.to_json(orient="records", date_format="iso"))
