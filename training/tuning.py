"""Optuna search of LightGBM hyper-parameters on a time-ordered validation fold."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import log_loss

from data.console import progress_enabled
from training.model import BoostedTrees

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Tuned:
    """Best hyper-parameters, the tree count early stopping chose, and every trial."""

    params: dict[str, Any]
    best_iteration: int
    best_log_loss: float
    trials: pd.DataFrame


def _suggest(trial: optuna.Trial, start: dict[str, Any]) -> dict[str, Any]:
    return {
        "learning_rate": trial.suggest_float("learning_rate", 0.01, 0.2, log=True),
        "num_leaves": trial.suggest_int("num_leaves", 4, 64, log=True),
        "min_child_samples": trial.suggest_int("min_child_samples", 10, 1000, log=True),
        "colsample_bytree": trial.suggest_float("colsample_bytree", 0.4, 1.0),
        "reg_lambda": trial.suggest_float("reg_lambda", 1e-3, 30.0, log=True),
        "n_estimators": start["n_estimators"],
    }


def _progress_lines(n_trials: int, timeout_seconds: float, every: float = 15.0) -> Any:
    """An Optuna callback that logs a line at most every `every` seconds (logs and pipes)."""
    started = last = time.monotonic()

    def report(study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last < every:
            return
        last = now
        budget = f" of {timeout_seconds:.0f} s" if timeout_seconds else ""
        log.info(
            "tuning: trial %d of at most %d, best validation log loss %.5f, %.0f s%s",
            trial.number + 1,
            n_trials,
            study.best_value,
            now - started,
            budget,
        )

    return report


def tune(
    train: pd.DataFrame,
    validation: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    start: dict[str, Any],
    *,
    n_trials: int,
    timeout_seconds: float,
    early_stopping_rounds: int,
    seed: int,
) -> Tuned:
    """Search from `start` (tried first) with TPE, scoring log loss on the validation fold.

    The validation fold is later than every training row, as the model will be used.
    """
    y_train = train["churned"].astype(int).to_numpy()
    y_val = validation["churned"].astype(int).to_numpy()
    iterations: dict[int, int] = {}

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, start)
        trees = BoostedTrees(features, categorical, params, early_stopping_rounds, seed)
        trees.fit(train, y_train, eval_set=(validation, y_val))
        iterations[trial.number] = trees.best_iteration_
        trial.set_user_attr("best_iteration", trees.best_iteration_)
        p = np.clip(trees.predict_proba(validation)[:, 1], 1e-6, 1 - 1e-6)
        return float(log_loss(y_val, p, labels=[0, 1]))

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.enqueue_trial({k: v for k, v in start.items() if k != "n_estimators"})
    study.optimize(
        objective,
        n_trials=max(1, n_trials),
        timeout=timeout_seconds or None,
        callbacks=[_progress_lines(n_trials, timeout_seconds)],
        show_progress_bar=progress_enabled(),
    )
    best = study.best_trial
    log.info(
        "tuning: %d trials, best validation log loss %.5f (trial %d)",
        len(study.trials),
        best.value,
        best.number,
    )
    trials = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "duration"))
    trials["duration"] = trials["duration"].dt.total_seconds()
    params = _suggest(optuna.trial.FixedTrial(best.params), start)  # type: ignore[arg-type]
    return Tuned(params, iterations[best.number], float(study.best_value), trials)
