"""Fit the risk curve's models: one per other horizon and one for the renewal, each calibrated.

Each target (`30d`, `60d`, `180d`, `by_renewal`) is fitted with the headline's recipe (its
tuned LightGBM parameters and calibration method; the tree count is early-stopped again for
the target):

- **Its rows** are the snapshots whose target label is known (`features/labels.py`), from the
  export's observed start on, so a label is never guessed.
- **Its test weeks:** a horizon no longer than the headline's is known on every headline test
  week, so it is judged there (same weeks, comparable figures). A longer horizon and the
  renewal (windows up to a year and more) are judged on their own newest labeled weeks.
- **Known in time:** the evaluated model learns only from rows whose label was known on the
  first test week (window and grace gap over): a renewal window can run a year, and no
  training row may hold an outcome from the weeks it is judged on.
- **Calibrated across accounts, not across time:** a 180-day label leaves too few weeks for
  the headline's time blocks a horizon apart (on a two-year export, none), so early stopping
  holds out a quarter of the accounts and the calibrator learns from out-of-fold scores
  (each account scored by trees that never saw it) of the newest weeks.

The production curve refits each target's recipe the same way on every row whose label is
known.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from data.params import BaseParams
from features.labels import curve_labels, renewal_window_days
from features.manifest import Manifest
from training.calibration import fit_on_scores, rebind
from training.curve import RENEWAL, RiskCurve, label_of, target_name
from training.frames import full_windows_from, observed_start, trainable_from
from training.model import BoostedTrees, ChurnModel
from training.params import EvaluateParams, TrainParams
from training.production import Recipe, production_rows
from training.splits import MIN_WEEKS, Period

log = logging.getLogger(__name__)


def other_targets(base: BaseParams) -> list[str]:
    """The curve's targets besides the headline, in order."""
    return [target_name(h) for h in base.horizons_days if h != base.horizon_days] + [RENEWAL]


def window_days(rows: pd.DataFrame, target: str, grace_gap_days: int) -> np.ndarray:
    """Days from `as_of` to the end of each row's label window (NaN: no window known)."""
    if target == RENEWAL:
        return renewal_window_days(rows, grace_gap_days).to_numpy(dtype=float)
    return np.full(len(rows), float(target.removesuffix("d")))


def target_rows(snapshots: pd.DataFrame, manifest: Manifest, target: str) -> pd.DataFrame:
    """The snapshots whose `target` label is known, with it as `churned` (int)."""
    horizons = [] if target == RENEWAL else [int(target.removesuffix("d"))]
    labels = curve_labels(snapshots, horizons, manifest.grace_gap_days, manifest.export_date)
    label = labels[label_of(target)]
    keep = label.notna()
    start = observed_start(snapshots)
    if start is not None:
        keep &= snapshots["as_of"] >= start
    rows = snapshots[keep].copy()
    rows["churned"] = label[keep].astype(int)
    return rows


def known_by(rows: pd.DataFrame, day: dt.date, target: str, grace_gap_days: int) -> pd.DataFrame:
    """The rows whose label was already known on `day` (window and grace gap over)."""
    ends = pd.to_datetime(rows["as_of"]) + pd.to_timedelta(
        window_days(rows, target, grace_gap_days) + grace_gap_days, unit="D"
    )
    return rows[(ends <= pd.Timestamp(day)).to_numpy()]


def judged_weeks(
    rows: pd.DataFrame, target: str, headline: Period, base: BaseParams, weeks: int
) -> Period:
    """The weeks a target is judged on: the headline's, or its own newest labeled weeks."""
    if target != RENEWAL and int(target.removesuffix("d")) <= base.horizon_days:
        return headline
    dates = sorted(rows["as_of"].unique())
    if len(dates) < 2 * weeks + MIN_WEEKS["train"]:
        weeks = max(MIN_WEEKS["test"], len(dates) // 4)
    return Period(dates[-weeks], dates[-1])


def development_rows(
    rows: pd.DataFrame, target: str, test: Period, manifest: Manifest
) -> pd.DataFrame:
    """Rows a target may learn from before its test weeks: known on the first of them."""
    before = rows[rows["as_of"] < test.start]
    start = trainable_from(
        before["as_of"], before["as_of"].min(), full_windows_from(manifest), test.start
    )
    return known_by(before[before["as_of"] >= start], test.start, target, manifest.grace_gap_days)


def account_folds(rows: pd.DataFrame, folds: int, seed: int) -> np.ndarray:
    """A fold number per row, the same for every row of an account (stable across runs)."""
    accounts = rows["account_id"].astype(str)
    hashed = pd.util.hash_pandas_object(accounts, index=False, hash_key=f"curve{seed:012d}"[:16])
    return (hashed.to_numpy() % np.uint64(folds)).astype(int)


def early_stopped_rounds(rows: pd.DataFrame, recipe: Recipe, params: TrainParams) -> int:
    """The tree count early stopping picks on held-out accounts (a quarter of them)."""
    held = account_folds(rows, 4, recipe.seed) == 0
    fit, validation = rows[~held], rows[held]
    stopped = BoostedTrees(
        recipe.features,
        recipe.categorical,
        recipe.params | {"n_estimators": params.n_estimators},
        params.early_stopping_rounds,
        recipe.seed,
    ).fit(fit, fit["churned"], eval_set=(validation, validation["churned"]))
    return stopped.best_iteration_


def fit_target(rows: pd.DataFrame, recipe: Recipe, params: TrainParams) -> CurveFit:
    """The recipe's trees on every row of `rows`, calibrated on out-of-fold scores.

    Each account's rows are scored by trees fitted on the other accounts' rows, and the
    calibrator learns from the newest `refit_calibration_blocks x calibration_weeks` weeks of
    those scores: what the base rate was lately, without a horizon-long gap of weeks that a
    180-day or renewal label cannot spare.
    """
    folds = account_folds(rows, params.calibration_folds, recipe.seed)
    raw = np.empty(len(rows))
    for k in range(params.calibration_folds):
        trees = recipe.fit_trees(rows[folds != k])
        raw[folds == k] = trees.predict_proba(rows[folds == k])[:, 1]
    dates = sorted(rows["as_of"].unique())
    newest = (
        rows["as_of"].to_numpy()
        >= dates[-min(len(dates), params.calibration_weeks * params.refit_calibration_blocks)]
    )
    fitted = fit_on_scores(
        recipe.calibration_method, raw[newest], rows["churned"].to_numpy()[newest]
    )
    trees = recipe.fit_trees(rows)
    model = ChurnModel.from_parts(
        trees, rebind(fitted, trees), recipe.calibration_method, random_state=recipe.seed
    )
    return CurveFit(model, dates[0], dates[-1], int(newest.sum()))


@dataclass(frozen=True)
class CurveFit:
    """A curve target's fitted model and the weeks it learned from."""

    model: ChurnModel
    first: dt.date
    data_through: dt.date
    calibration_rows: int


def fit_curves(
    snapshots: pd.DataFrame,
    manifest: Manifest,
    recipe: Recipe,
    headline: Period,
    base: BaseParams,
    params: TrainParams,
    evaluate: EvaluateParams,
) -> tuple[RiskCurve, RiskCurve, dict[str, Any]]:
    """The evaluated curve, the production curve and what each target's fit used.

    The evaluated model of a target learns from its rows known before its test weeks; the
    production one from every row whose label is known. A target whose rows are too few (or
    hold one outcome) is left out, with a warning, and the curve does without it.
    """
    models: dict[str, dict[str, Any]] = {"evaluated": {}, "production": {}}
    summary: dict[str, Any] = {}
    for target in other_targets(base):
        rows = target_rows(snapshots, manifest, target)
        try:
            if rows.empty:
                raise ValueError("no row has a known label")
            test = judged_weeks(rows, target, headline, base, evaluate.test_weeks)
            dev = development_rows(rows, target, test, manifest)
            if dev["churned"].nunique() < 2:
                raise ValueError("its development weeks hold one outcome only")
            fitted = dataclasses.replace(recipe, rounds=early_stopped_rounds(dev, recipe, params))
            evaluated = fit_target(dev, fitted, params)
            production = fit_target(production_rows(rows, manifest), fitted, params)
        except ValueError as err:  # too few labeled weeks, or one outcome, for this target
            log.warning("curve: %s left out: %s", target, err)
            continue
        models["evaluated"][target] = evaluated.model
        models["production"][target] = production.model
        summary[target] = _summary(dev, test, fitted, evaluated, production)
        log.info("curve: %s fitted (%s)", target, summary[target])
    horizons = tuple(
        h for h in base.horizons_days if h == base.horizon_days or target_name(h) in summary
    )
    periods = {t: {k: summary[t][k] for k in ("test_start", "test_end")} for t in summary}
    curves = [
        RiskCurve(horizons, base.horizon_days, base.grace_gap_days, fitted_models, periods)
        for fitted_models in models.values()
    ]
    return curves[0], curves[1], summary


def _summary(
    dev: pd.DataFrame, test: Period, recipe: Recipe, evaluated: CurveFit, production: CurveFit
) -> dict[str, Any]:
    return {
        "test_start": test.start.isoformat(),
        "test_end": test.end.isoformat(),
        "development_rows": len(dev),
        "churn_rate": float(dev["churned"].mean()),
        "rounds": recipe.rounds,
        "calibration_method": recipe.calibration_method,
        "calibration_rows": evaluated.calibration_rows,
        "data_through": evaluated.data_through.isoformat(),
        "production_data_through": production.data_through.isoformat(),
    }
