"""Typed `monitor:` section of params.yaml."""

from __future__ import annotations

from pydantic import Field

from data.params import Section


class MonitorParams(Section):
    """Thresholds of the monitor's checks and of its retrain rules (see `monitoring.rules`)."""

    max_psi: float = Field(0.25, gt=0)  # a feature past this PSI (and past chance) drifts
    max_missing_increase: float = Field(0.2, gt=0, le=1)  # ... or its missing share rose this
    max_score_psi: float = Field(0.25, gt=0)  # the score's PSI against its training rows
    recalibration_weeks: int = Field(8, ge=2)  # newest labeled weeks the calibration is read on
    max_calibration_drift: float = Field(0.02, gt=0)  # |mean predicted - churn rate| allowed
    recalibrate: bool = True  # refit the calibrator on those weeks when past the limit
    judge_weeks: int = Field(13, ge=1)  # newest out-of-sample weeks the realized AUC pools
    max_auc_drop: float = Field(0.05, ge=0)  # realized AUC below the vouched test AUC by more
    max_drifting_features: int = Field(3, ge=0)  # retrain when more features drift than this
    max_model_age_weeks: int = Field(26, ge=1)  # weeks from `data_through` to the newest week
    top_share: float = Field(0.1, gt=0, lt=1)  # the "top decile" of the precision figure
