"""The skew guard of a scored week: which features no longer look like the training rows.

`check_skew` reads the per-feature comparison of `training.profile.compare_to_profile` and
flags a feature whose PSI is past `score.skew_max_psi` (and past what sampling alone gives at
this week's size), or whose missing share rose by more than `score.skew_max_missing_increase`.
The result travels in the week's `summary.json` to the report and `GET /v1/model`; this
module stays light (no training code) because the API imports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

if TYPE_CHECKING:  # the API imports this module; pandas would add seconds to its start-up
    import pandas as pd

ROUNDED = ("psi", "psi_threshold", "missing_share", "training_missing_share")


class SkewedFeature(BaseModel):
    """A feature of the scored week past a skew threshold."""

    model_config = ConfigDict(frozen=True)

    name: str
    description: str
    psi: float = Field(description="Population stability index against the training rows")
    psi_threshold: float = Field(description="PSI above which it is flagged at this week's size")
    missing_share: float = Field(description="Share of the scored week's rows missing it")
    training_missing_share: float = Field(description="The same share in the training rows")

    def line(self) -> str:
        """One line for a log: name, PSI and the missing shares."""
        return (
            f"{self.name} (PSI {self.psi:.2f}; missing {self.missing_share:.0%} now, "
            f"{self.training_missing_share:.0%} in training)"
        )


class SkewCheck(BaseModel):
    """The scored week's features against the rows the model was trained on."""

    model_config = ConfigDict(frozen=True)

    status: Literal["checked", "skipped"]
    note: str | None = None
    max_psi: float
    max_missing_increase: float
    training_start: str | None = None
    training_end: str | None = None
    training_rows: int | None = None
    rows: int = Field(0, description="Scored rows compared")
    features_checked: int = 0
    flagged: list[SkewedFeature] = Field(default_factory=list)


def check_skew(
    comparison: pd.DataFrame,
    descriptions: Mapping[str, str],
    *,
    max_psi: float,
    max_missing_increase: float,
    training_start: str,
    training_end: str,
    training_rows: int,
    rows: int,
) -> SkewCheck:
    """Flag the features of `comparison` past either threshold, largest PSI first."""
    threshold = comparison["chance_psi"].clip(lower=max_psi)
    increase = comparison["missing_share"] - comparison["training_missing_share"]
    past = comparison.assign(psi_threshold=threshold)[
        (comparison["psi"] > threshold) | (increase > max_missing_increase)
    ].sort_values(["psi", "feature"], ascending=[False, True])
    records: list[dict[str, Any]] = past.to_dict("records")  # type: ignore[assignment]
    flagged = [
        SkewedFeature(
            name=r["feature"],
            description=descriptions.get(r["feature"], r["feature"].replace("_", " ")),
            **{k: round(float(r[k]), 4) for k in ROUNDED},
        )
        for r in records
    ]
    return SkewCheck(
        status="checked",
        max_psi=max_psi,
        max_missing_increase=max_missing_increase,
        training_start=training_start,
        training_end=training_end,
        training_rows=training_rows,
        rows=rows,
        features_checked=len(comparison),
        flagged=flagged,
    )
