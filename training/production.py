"""The recipe the test weeks vouch for, and the production model fitted with it on every week.

`train` judges a recipe on weeks it holds out: the tuned LightGBM parameters, the number of
boosting rounds early stopping chose on the validation fold, and a calibration method. The
tree count is kept as it is on larger fits: weekly snapshots of the same accounts add rows
much faster than they add information, and on the demo's test weeks scaling the count with
the rows made things worse (README, "The model that goes to the meeting"). The held-out
periods vouch for that recipe; they are not withheld from the model that goes to the meeting.
`fit_production` fits
the same recipe on every labeled week, and fits its calibrator on out-of-time scores
(cross-fitting): each block of the most recent labeled weeks is scored by trees fitted only on
weeks a whole horizon before it, so no row calibrates trees that saw it or a label that
overlaps its own. The calibrator, which maps scores to probabilities, is then bound to the
trees fitted on every week. Frames in, fitted objects out; nothing here writes files.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.manifest import Manifest
from training.calibration import apply_calibrator, fit_on_scores, rebind
from training.frames import CONTEXT_COLUMNS, full_windows_from, trainable_from
from training.metrics import score
from training.model import EPS, BoostedTrees, ChurnModel
from training.splits import MIN_WEEKS, Period

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipe:
    """Everything needed to fit the evaluated model again on other rows."""

    features: list[str]
    categorical: list[str]
    params: dict[str, Any]  # tuned LightGBM parameters, without the tree count
    rounds: int  # the tree count early stopping chose on the validation fold
    calibration_method: str
    seed: int

    def fit_trees(self, rows: pd.DataFrame) -> BoostedTrees:
        """The recipe's trees on `rows` (no early stopping: the tree count is the recipe's)."""
        params = self.params | {"n_estimators": self.rounds}
        trees = BoostedTrees(self.features, self.categorical, params, random_state=self.seed)
        return trees.fit(rows, rows["churned"].astype(int))

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, for `model.json` and MLflow."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Recipe:
        """Inverse of `as_dict`."""
        return cls(**data)


@dataclass(frozen=True)
class Production:
    """The production model and the out-of-time rows its calibrator learned from."""

    model: ChurnModel
    data_through: dt.date  # last labeled Monday the trees learned from
    fitted_from: dt.date
    rows: int
    calibration: pd.DataFrame  # the calibration rows with out-of-time `probability`
    blocks: list[Period]  # calibration blocks, oldest first


def calibration_blocks(
    dates: list[dt.date], block_weeks: int, blocks: int, horizon_days: int
) -> list[tuple[Period, dt.date]]:
    """The newest `blocks` runs of `block_weeks` dates, each with the last date its trees use.

    Trees that score a block learn only from dates a whole horizon before the block's first
    date, so none of their labels overlaps the block's. Blocks that would leave fewer than
    `MIN_WEEKS["train"]` weeks to fit on are dropped (a short export keeps fewer blocks).
    """
    out: list[tuple[Period, dt.date]] = []
    newest = sorted(dates)
    for k in range(blocks):
        block = newest[len(newest) - (k + 1) * block_weeks : len(newest) - k * block_weeks]
        if len(block) < block_weeks or not block:
            break
        before = [d for d in newest if (block[0] - d).days >= horizon_days]
        if len(before) < MIN_WEEKS["train"]:
            break
        out.append((Period(block[0], block[-1]), before[-1]))
    return out[::-1]


def fit_production(
    recipe: Recipe,
    rows: pd.DataFrame,
    horizon_days: int,
    block_weeks: int,
    blocks: int,
) -> Production:
    """The recipe fitted on every row of `rows` (labeled, trainable), calibrated out of time."""
    dates = sorted(rows["as_of"].unique())
    cuts = calibration_blocks(dates, block_weeks, blocks, horizon_days)
    if not cuts:
        raise ValueError(
            f"{len(dates)} labeled weeks leave no calibration block of {block_weeks} weeks "
            f"with {MIN_WEEKS['train']} training weeks a {horizon_days}-day horizon before it"
        )
    scored = []
    for period, fit_until in cuts:
        fold = recipe.fit_trees(rows[rows["as_of"] <= fit_until])
        block = rows[period.contains(rows["as_of"])]
        scored.append(block.assign(raw_score=fold.predict_proba(block)[:, 1]))
        log.info(
            "calibration block %s..%s scored by trees fitted up to %s (%d rows)",
            period.start,
            period.end,
            fit_until,
            len(block),
        )
    calibration = pd.concat(scored, ignore_index=True)
    y = calibration["churned"].astype(int).to_numpy()
    fitted = fit_on_scores(recipe.calibration_method, calibration["raw_score"].to_numpy(), y)
    calibration["probability"] = _bound_probability(fitted, calibration["raw_score"].to_numpy())
    trees = recipe.fit_trees(rows)
    model = ChurnModel.from_parts(
        trees, rebind(fitted, trees), recipe.calibration_method, random_state=recipe.seed
    )
    log.info(
        "production model: %d rows %s..%s, %d trees, %s calibrator on %d out-of-time rows",
        len(rows),
        dates[0],
        dates[-1],
        trees.best_iteration_,
        recipe.calibration_method,
        len(calibration),
    )
    return Production(
        model=model,
        data_through=dates[-1],
        fitted_from=dates[0],
        rows=len(rows),
        calibration=calibration,
        blocks=[period for period, _ in cuts],
    )


def _bound_probability(calibrator: Any, raw: np.ndarray) -> np.ndarray:
    """The calibrated probability of out-of-time scores (what the calibrator learned from)."""
    return np.clip(apply_calibrator(calibrator, raw), EPS, 1 - EPS)


def calibration_rows(oof: pd.DataFrame, rating_feature: str) -> pd.DataFrame:
    """The production calibrator's rows: out-of-time raw score, calibrated probability."""
    out = oof[["account_id", "as_of", "churned", "probability", "raw_score"]].copy()
    rating = oof[rating_feature] if rating_feature in oof else pd.Series(pd.NA, oof.index)
    out["manager_rating"] = rating.astype("Float64")
    for column in CONTEXT_COLUMNS:
        out[column] = oof[column]
    return out.reset_index(drop=True)


def production_rows(rows: pd.DataFrame, manifest: Manifest) -> pd.DataFrame:
    """Every labeled row the production model learns from (whole feature windows only)."""
    dates = rows["as_of"]
    start = trainable_from(dates, dates.min(), full_windows_from(manifest), dates.max())
    return rows[dates >= start]


def production_metrics(production: Production, bins: int) -> dict[str, Any]:
    """What the production fit used, and its calibrator's fit on the out-of-time rows."""
    oof = production.calibration
    return {
        "data_through": production.data_through.isoformat(),
        "fitted_from": production.fitted_from.isoformat(),
        "rows": production.rows,
        "rounds": production.model.trees_.best_iteration_,
        "calibration_blocks": [[str(b.start), str(b.end)] for b in production.blocks],
        "calibration_out_of_time": score(oof["churned"], oof["probability"], oof["mrr"], bins),
    }
