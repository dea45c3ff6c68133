"""Simple models the churn model must beat, fitted on the same periods."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


class AsFloat(TransformerMixin, BaseEstimator):
    """Numeric columns (nullable ints, bools) to float with NaN for missing."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> AsFloat:
        """Nothing to learn beyond the width."""
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """A float matrix."""
        return X.astype("Float64").to_numpy(dtype=float, na_value=np.nan)


class AsText(TransformerMixin, BaseEstimator):
    """Category columns to object strings with a `missing` level."""

    def fit(self, X: pd.DataFrame, y: Any = None) -> AsText:
        """Nothing to learn beyond the width."""
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: pd.DataFrame) -> np.ndarray:
        """An object matrix."""
        return X.astype("object").where(X.notna(), "missing").astype(str).to_numpy()


def logistic_baseline(
    features: Sequence[str], categorical: Sequence[str], seed: int = 0
) -> Pipeline:
    """Logistic regression on the model's features (median-imputed, scaled, one-hot)."""
    numeric = [f for f in features if f not in categorical]
    columns = ColumnTransformer(
        [
            (
                "numeric",
                make_pipeline(
                    AsFloat(),
                    SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
                    StandardScaler(),
                ),
                numeric,
            ),
            (
                "category",
                make_pipeline(AsText(), OneHotEncoder(handle_unknown="ignore")),
                list(categorical),
            ),
        ]
    )
    return make_pipeline(columns, LogisticRegression(max_iter=2000, C=1.0, random_state=seed))


def rating_baseline(column: str) -> Pipeline:
    """The manager's rating alone: churn rate per rating level (never rated is a level)."""
    return make_pipeline(
        ColumnTransformer(
            [("rating", make_pipeline(AsText(), OneHotEncoder(handle_unknown="ignore")), [column])]
        ),
        LogisticRegression(C=100.0, max_iter=1000),
    )


def recency_baseline(column: str) -> Pipeline:
    """Days since the last contact alone, on a log scale (never contacted is its own flag)."""
    return make_pipeline(
        ColumnTransformer(
            [
                (
                    "days",
                    make_pipeline(
                        AsFloat(),
                        SimpleImputer(
                            strategy="median", add_indicator=True, keep_empty_features=True
                        ),
                        _Log1p(),
                    ),
                    [column],
                )
            ]
        ),
        StandardScaler(),
        LogisticRegression(max_iter=1000),
    )


class _Log1p(TransformerMixin, BaseEstimator):
    """log(1 + max(x, 0)), so a long silence does not dominate the fit."""

    def fit(self, X: np.ndarray, y: Any = None) -> _Log1p:
        """Nothing to learn beyond the width."""
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Log-scaled copy."""
        return np.log1p(np.clip(X, 0, None))


def fit_baselines(
    train: pd.DataFrame,
    calibration: pd.DataFrame,
    features: Sequence[str],
    categorical: Sequence[str],
    rating_feature: str,
    contact_feature: str,
    seed: int = 0,
) -> dict[str, Any]:
    """Fit every baseline whose input exists; single-signal ones on the calibration period."""
    fitted: dict[str, Any] = {
        "logistic": logistic_baseline(features, categorical, seed).fit(
            train, train["churned"].astype(int)
        )
    }
    y_cal = calibration["churned"].astype(int)
    if rating_feature in features:
        fitted["manager_rating"] = rating_baseline(rating_feature).fit(calibration, y_cal)
    if contact_feature in features:
        fitted["days_since_contact"] = recency_baseline(contact_feature).fit(calibration, y_cal)
    fitted["base_rate"] = float(y_cal.mean())
    return fitted


def predict_baselines(fitted: dict[str, Any], frame: pd.DataFrame) -> pd.DataFrame:
    """One probability column per baseline, `<name>_probability`."""
    out = {}
    for name, model in fitted.items():
        if name == "base_rate":
            out[f"{name}_probability"] = np.full(len(frame), model)
        else:
            out[f"{name}_probability"] = model.predict_proba(frame)[:, 1]
    return pd.DataFrame(out, index=frame.index)


class _Logit(TransformerMixin, BaseEstimator):
    """Probabilities to log-odds."""

    def fit(self, X: np.ndarray, y: Any = None) -> _Logit:
        """Nothing to learn beyond the width."""
        self.n_features_in_ = np.shape(X)[1]
        return self

    def transform(self, X: np.ndarray) -> np.ndarray:
        """log(p / (1 - p)), clipped away from 0 and 1."""
        p = np.clip(np.asarray(X, dtype=float), 1e-6, 1 - 1e-6)
        return np.log(p / (1 - p))


def combined_baseline(probability: str = "probability", rating: str = "manager_rating") -> Pipeline:
    """The model and the manager together, fitted on the calibration period.

    A logistic regression on the model's log-odds and the rating level (never rated is a level).
    """
    return make_pipeline(
        ColumnTransformer(
            [
                ("model", _Logit(), [probability]),
                (
                    "rating",
                    make_pipeline(AsText(), OneHotEncoder(handle_unknown="ignore")),
                    [rating],
                ),
            ]
        ),
        LogisticRegression(C=100.0, max_iter=1000),
    )
