"""Per-row drivers of the calibrated probability: TreeSHAP on the booster, rescaled.

TreeSHAP (LightGBM's own implementation, `pred_contrib=True`; the `shap` package returns the
same values and draws the plots) splits the booster's log-odds `f(x)` into a base value `f0`
and one contribution per feature. The user reads the calibrated probability `p(x)`, so each
contribution is scaled by `(p(x) - p0) / (f(x) - f0)`, where `p0` is the calibrated
probability of the base log-odds. The scaled contributions add up exactly to
`p(x) - p0`, keep their signs (the calibrators are monotone), and read in probability points.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.manifest import Manifest
from training.calibration import apply_calibrator
from training.model import EPS, ChurnModel


@dataclass(frozen=True)
class Explanation:
    """Contributions of each feature to each row's probability (and to its log-odds)."""

    features: list[str]
    probability: np.ndarray  # calibrated, what the user reads
    base_probability: float  # p0: the calibrated probability of the base log-odds
    contributions: np.ndarray  # (rows, features), probability points, sum = probability - p0
    log_odds: np.ndarray  # (rows, features), TreeSHAP on the booster's raw score
    base_log_odds: float

    def take(self, index: np.ndarray) -> Explanation:
        """The rows at positions `index`."""
        return Explanation(
            self.features,
            self.probability[index],
            self.base_probability,
            self.contributions[index],
            self.log_odds[index],
            self.base_log_odds,
        )

    def frame(self, ids: pd.DataFrame) -> pd.DataFrame:
        """`ids` beside probability, base probability and one column per feature."""
        out = ids.reset_index(drop=True).copy()
        out["probability"] = self.probability
        out["base_probability"] = self.base_probability
        contrib = pd.DataFrame(
            self.contributions.astype(np.float32), columns=self.features, index=out.index
        )
        return pd.concat([out, contrib], axis=1)


def calibrated(model: ChurnModel, raw_probability: np.ndarray) -> np.ndarray:
    """The model's calibrator applied to booster probabilities (no calibrator: unchanged)."""
    if model.calibrator_ is None:
        return np.asarray(raw_probability, dtype=float)
    return np.clip(apply_calibrator(model.calibrator_, raw_probability), EPS, 1 - EPS)


def explain(model: ChurnModel, frame: pd.DataFrame) -> Explanation:
    """TreeSHAP of every row of `frame`, in log-odds and in calibrated probability points."""
    trees = model.trees_
    booster = trees.booster_.booster_
    contrib = np.asarray(booster.predict(trees.columns_.transform(frame), pred_contrib=True))
    phi, f0 = contrib[:, :-1], float(contrib[0, -1]) if len(contrib) else 0.0
    f = phi.sum(axis=1) + f0
    p = model.predict_proba(frame)[:, 1]
    p0 = float(calibrated(model, np.array([1.0 / (1.0 + np.exp(-f0))]))[0])
    delta = f - f0
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(np.abs(delta) > 1e-12, (p - p0) / delta, 0.0)
    return Explanation(
        features=list(model.features),
        probability=p,
        base_probability=p0,
        contributions=phi * scale[:, None],
        log_odds=phi,
        base_log_odds=f0,
    )


def top_drivers(
    explanation: Explanation,
    n_up: int = 3,
    n_down: int = 2,
    floor: float = 0.0,
    quotable: np.ndarray | None = None,
) -> tuple[list[list[int]], list[list[int]]]:
    """Per row, the feature indices that raise the probability most and lower it most.

    Drivers that move the probability by `floor` points or less are left out, and so are the
    cells where `quotable` (rows x features) is False.
    """
    c = explanation.contributions
    if quotable is not None:
        c = np.where(quotable, c, 0.0)
    order = np.argsort(-c, axis=1, kind="stable")[:, :n_up]
    up = [[int(j) for j in row if c[i, j] > floor] for i, row in enumerate(order)]
    down_order = np.argsort(c, axis=1, kind="stable")[:, :n_down]
    down = [[int(j) for j in row if c[i, j] < -floor] for i, row in enumerate(down_order)]
    return up, down


def global_importance(explanation: Explanation, descriptions: Sequence[str]) -> pd.DataFrame:
    """Mean |contribution| per feature, largest first (probability points and log-odds)."""
    return (
        pd.DataFrame(
            {
                "feature": explanation.features,
                "description": list(descriptions),
                "mean_abs_probability": np.abs(explanation.contributions).mean(axis=0),
                "mean_abs_log_odds": np.abs(explanation.log_odds).mean(axis=0),
            }
        )
        .sort_values("mean_abs_log_odds", ascending=False, kind="stable")
        .reset_index(drop=True)
    )


def shap_explanation(explanation: Explanation, frame: pd.DataFrame, names: Sequence[str]) -> Any:
    """A `shap.Explanation` (log-odds) for SHAP's plots, with readable feature names."""
    import shap

    data = frame[explanation.features].apply(
        lambda col: col.cat.codes.where(col.notna()) if col.dtype == "category" else col
    )
    return shap.Explanation(
        values=explanation.log_odds,
        base_values=np.full(len(frame), explanation.base_log_odds),
        data=data.astype("Float64").to_numpy(dtype=float, na_value=np.nan),
        feature_names=list(names),
    )


def explain_batches(
    model: ChurnModel, frame: pd.DataFrame, batch_rows: int, progress: Any = None
) -> Explanation:
    """`explain` over `frame` in batches of `batch_rows` (bounded memory, a progress bar)."""
    starts = range(0, max(len(frame), 1), batch_rows)
    parts = [explain(model, frame.iloc[lo : lo + batch_rows]) for lo in (progress or iter)(starts)]
    return Explanation(
        features=parts[0].features,
        probability=np.concatenate([p.probability for p in parts]),
        base_probability=parts[0].base_probability,
        contributions=np.concatenate([p.contributions for p in parts]),
        log_odds=np.concatenate([p.log_odds for p in parts]),
        base_log_odds=parts[0].base_log_odds,
    )


def reason_frame(
    explanation: Explanation,
    frame: pd.DataFrame,
    manifest: Manifest,
    n_up: int = 3,
    n_down: int = 2,
    floor: float = 0.0,
) -> pd.DataFrame:
    """Per row: ids, probability, and the sentences of the drivers raising and lowering it.

    Columns: account_id, as_of, probability, base_probability, reasons_up, reasons_down (lists
    of sentences), drivers_up, drivers_down (the features behind them, same order), and
    contributions_up, contributions_down (their probability points).
    """
    from evaluation.reasons import BASELINE, quotable, sentence

    entries = manifest.entries()
    needed = set(explanation.features) | set(BASELINE)
    records: list[dict[str, Any]] = frame[[c for c in frame.columns if c in needed]].to_dict(
        "records"
    )  # type: ignore[assignment]
    names = explanation.features
    said = np.array(
        [[quotable(entries[n], r) if n in entries else True for n in names] for r in records],
        dtype=bool,
    ).reshape(len(records), len(names))
    up, down = top_drivers(explanation, n_up, n_down, floor, said)
    c = explanation.contributions

    def say(i: int, js: list[int]) -> list[str]:
        return [sentence(entries[names[j]], records[i]) for j in js]

    out = frame[["account_id", "as_of"]].reset_index(drop=True).copy()
    out["probability"] = explanation.probability
    out["base_probability"] = explanation.base_probability
    out["reasons_up"] = [say(i, js) for i, js in enumerate(up)]
    out["reasons_down"] = [say(i, js) for i, js in enumerate(down)]
    out["drivers_up"] = [[names[j] for j in js] for js in up]
    out["drivers_down"] = [[names[j] for j in js] for js in down]
    out["contributions_up"] = [[float(c[i, j]) for j in js] for i, js in enumerate(up)]
    out["contributions_down"] = [[float(c[i, j]) for j in js] for i, js in enumerate(down)]
    return out
