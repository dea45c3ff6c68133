"""When to retrain: the monitor's documented rules, each a plain sentence when it fires.

1. Realized ROC AUC over the judged weeks (the newest `judge_weeks` out-of-sample weeks) is
   below the test AUC the model was vouched for by more than `max_auc_drop`.
2. More than `max_drifting_features` features of the newest week drift (PSI past `max_psi`
   and past chance, or missing share up by `max_missing_increase`).
3. The score's PSI against the training rows is past `max_score_psi`: the population the
   model ranks is not the one it learned.
4. A recalibrated model drifts past `max_calibration_drift` again on weeks after its own
   calibration: moving the calibrator no longer holds; the trees need new weeks.
5. The model's `data_through` is more than `max_model_age_weeks` weeks before the newest week.

A recalibration alone is not a retrain: it answers a calibration drift with the trees frozen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from monitoring.params import MonitorParams

RULES = [  # the five rules above, as summary.json states them
    "realized ROC AUC of the judged weeks more than max_auc_drop below the vouched test AUC",
    "more than max_drifting_features features past max_psi",
    "the score's PSI past max_score_psi",
    "calibration drift past max_calibration_drift persisting after a recalibration",
    "data_through more than max_model_age_weeks weeks before the newest week",
]


@dataclass(frozen=True)
class Evidence:
    """What the rules read; None where the figure is not known yet."""

    realized_auc: float | None
    vouched_auc: float | None
    drifting_features: list[str] = field(default_factory=list)
    score_psi: float | None = None
    recalibrated_drift: float | None = None  # drift of a recalibrated model after its weeks
    model_age_weeks: float | None = None


def recommend(evidence: Evidence, params: MonitorParams) -> dict[str, Any]:
    """`{"retrain": bool, "reasons": [...]}`: every rule that fires, in the order above."""
    e, p = evidence, params
    reasons = []
    if (
        e.realized_auc is not None
        and e.vouched_auc is not None
        and e.realized_auc < e.vouched_auc - p.max_auc_drop
    ):
        reasons.append(
            f"realized ROC AUC {e.realized_auc:.3f} on the judged weeks is more than "
            f"{p.max_auc_drop} below the vouched test AUC {e.vouched_auc:.3f}"
        )
    if len(e.drifting_features) > p.max_drifting_features:
        names = ", ".join(e.drifting_features[:8])
        reasons.append(
            f"{len(e.drifting_features)} features drift past PSI {p.max_psi} "
            f"(more than {p.max_drifting_features}): {names}"
        )
    if e.score_psi is not None and e.score_psi > p.max_score_psi:
        reasons.append(
            f"the score's PSI {e.score_psi:.3f} against the training rows is past {p.max_score_psi}"
        )
    if e.recalibrated_drift is not None and abs(e.recalibrated_drift) > p.max_calibration_drift:
        reasons.append(
            f"calibration drift {e.recalibrated_drift:+.3f} persists after a recalibration "
            f"(limit {p.max_calibration_drift})"
        )
    if e.model_age_weeks is not None and e.model_age_weeks > p.max_model_age_weeks:
        reasons.append(
            f"the model learned from weeks up to {e.model_age_weeks:.0f} weeks before the newest "
            f"(limit {p.max_model_age_weeks})"
        )
    return {"retrain": bool(reasons), "reasons": reasons, "rules": RULES}
