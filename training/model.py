"""The one saved estimator: column handling + LightGBM + calibrator, with `predict_proba`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from training.calibration import Calibrated, compare_calibrators, fit_calibrator, from_legacy

EPS = 1e-6  # probabilities are kept off 0 and 1 so log loss stays finite


class FeatureFrame(TransformerMixin, BaseEstimator):
    """Select the manifest's features; numbers to float, categories to fixed pandas levels."""

    def __init__(self, features: Sequence[str] = (), categorical: Sequence[str] = ()) -> None:
        self.features = features
        self.categorical = categorical

    def fit(self, X: pd.DataFrame, y: Any = None) -> FeatureFrame:
        """Learn the category levels seen in training (later unseen levels become missing)."""
        missing = [c for c in self.features if c not in X.columns]
        if missing:
            raise ValueError(f"feature columns missing from the input: {missing}")
        self.categories_ = {
            c: sorted(X[c].dropna().astype(str).unique().tolist()) for c in self.categorical
        }
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        """A frame LightGBM reads: float columns and pandas categoricals."""
        check_is_fitted(self, "categories_")
        columns: dict[str, Any] = {}
        for name in self.features:
            if name in self.categories_:
                levels = self.categories_[name]
                values = X[name].astype("object")
                known = values.isin(list(levels))  # unseen levels and missing -> NaN
                columns[name] = pd.Categorical(values.where(known, None), categories=levels)
            else:
                columns[name] = X[name].astype("Float64").to_numpy(dtype=float, na_value=np.nan)
        return pd.DataFrame(columns, index=X.index)


class BoostedTrees(ClassifierMixin, BaseEstimator):
    """Features + LightGBM, early-stopped on a later time fold when one is given."""

    def __init__(
        self,
        features: Sequence[str] = (),
        categorical: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        early_stopping_rounds: int = 50,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.categorical = categorical
        self.params = params
        self.early_stopping_rounds = early_stopping_rounds
        self.random_state = random_state

    def fit(
        self, X: pd.DataFrame, y: Any, eval_set: tuple[pd.DataFrame, Any] | None = None
    ) -> BoostedTrees:
        """Fit the columns and the booster; `eval_set` turns on early stopping."""
        self.columns_ = FeatureFrame(self.features, self.categorical).fit(X)
        self.booster_ = lgb.LGBMClassifier(
            **(self.params or {}), random_state=self.random_state, verbose=-1
        )
        fit_kw: dict[str, Any] = {}
        if eval_set is not None:
            fit_kw["eval_X"] = (self.columns_.transform(eval_set[0]),)
            fit_kw["eval_y"] = (np.asarray(eval_set[1]),)
            fit_kw["callbacks"] = [lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
        self.booster_.fit(self.columns_.transform(X), np.asarray(y), **fit_kw)
        self.best_iteration_ = int(self.booster_.best_iteration_ or self.booster_.n_estimators)
        self.classes_ = self.booster_.classes_
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Uncalibrated class probabilities."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict_proba(self.columns_.transform(X)))

    def decision_function(self, X: pd.DataFrame) -> np.ndarray:
        """Raw log-odds, the input Platt scaling expects."""
        check_is_fitted(self, "booster_")
        return np.asarray(self.booster_.predict(self.columns_.transform(X), raw_score=True))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most likely class."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]


class ChurnModel(ClassifierMixin, BaseEstimator):
    """Boosted trees plus the calibrator that won on the calibration period."""

    calibrator_: Calibrated | None

    def __init__(
        self,
        features: Sequence[str] = (),
        categorical: Sequence[str] = (),
        params: dict[str, Any] | None = None,
        early_stopping_rounds: int = 50,
        calibration_methods: Sequence[str] = ("none", "platt", "isotonic", "venn_abers"),
        calibration_folds: int = 4,
        random_state: int = 0,
    ) -> None:
        self.features = features
        self.categorical = categorical
        self.params = params
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration_methods = calibration_methods
        self.calibration_folds = calibration_folds
        self.random_state = random_state

    def __setstate__(self, state: dict[str, Any]) -> None:
        """Unpickle, turning the calibrator of a model saved by older code into today's."""
        super().__setstate__(state)
        if state.get("calibrator_") is not None:
            self.calibrator_ = from_legacy(state["calibrator_"], self.trees_)

    def fit(
        self,
        X: pd.DataFrame,
        y: Any,
        *,
        eval_set: tuple[pd.DataFrame, Any] | None = None,
        calibration_set: tuple[pd.DataFrame, Any] | None = None,
        calibration_groups: Any = None,
    ) -> ChurnModel:
        """Fit the trees on `X`, then compare and fit calibrators on `calibration_set`."""
        self.trees_ = BoostedTrees(
            self.features,
            self.categorical,
            self.params,
            self.early_stopping_rounds,
            self.random_state,
        ).fit(X, y, eval_set=eval_set)
        self.classes_ = self.trees_.classes_
        self.calibration_losses_: dict[str, float] = {}
        self.calibration_method_ = "none"
        self.calibrator_ = None
        if calibration_set is not None:
            X_cal, y_cal = calibration_set
            self.calibration_losses_ = compare_calibrators(
                self.trees_,
                X_cal,
                np.asarray(y_cal),
                self.calibration_methods,
                calibration_groups,
                self.calibration_folds,
            )
            self.calibration_method_ = min(
                self.calibration_losses_, key=self.calibration_losses_.__getitem__
            )
            self.calibrator_ = fit_calibrator(
                self.trees_, X_cal, np.asarray(y_cal), self.calibration_method_
            )
        return self

    @classmethod
    def from_parts(
        cls, trees: BoostedTrees, calibrator: Calibrated | None, method: str, **params: Any
    ) -> ChurnModel:
        """A fitted model of trees and a calibrator fitted elsewhere (already bound to them)."""
        model = cls(trees.features, trees.categorical, trees.params, **params)
        model.trees_ = trees
        model.classes_ = trees.classes_
        model.calibration_losses_ = {}
        model.calibration_method_ = method
        model.calibrator_ = calibrator
        return model

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Calibrated probabilities: column 1 is the chance of churning within the horizon."""
        check_is_fitted(self, "trees_")
        model = self.calibrator_ if self.calibrator_ is not None else self.trees_
        churn = np.clip(np.asarray(model.predict_proba(X))[:, 1], EPS, 1 - EPS)
        return np.column_stack([1 - churn, churn])

    def raw_score(self, X: pd.DataFrame) -> np.ndarray:
        """The booster's uncalibrated probability of churn."""
        check_is_fitted(self, "trees_")
        return self.trees_.predict_proba(X)[:, 1]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """Most likely class."""
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]
