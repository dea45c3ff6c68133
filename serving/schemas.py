"""The risk API's request and response bodies, and the error answers every route may give."""

from __future__ import annotations

import datetime as dt
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from serving.skew import SkewCheck


class FieldProblem(BaseModel):
    """One invalid field of a request."""

    field: str = Field(description="Where, e.g. body.account_ids.0")
    problem: str


class ErrorBody(BaseModel):
    """What went wrong, for a machine and a person."""

    code: str
    message: str
    request_id: str | None = None
    details: list[FieldProblem] | None = Field(
        None, description="Every invalid field of a 422 `invalid_request`, not just the first"
    )


class Error(BaseModel):
    """Every error response."""

    error: ErrorBody


class CurvePoint(BaseModel):
    """One point of an account's risk curve."""

    horizon_days: int = Field(description="Days after as_of the probability covers")
    probability: float = Field(
        description="Chance (0-1) the subscription ends within horizon_days of as_of"
    )


RISK_CURVE = (
    "P(churn within horizon_days) for each horizon of the model's risk curve (params "
    "base.horizons_days), shortest first and never falling; the point at the model's "
    "horizon_days equals probability. "
)
P_BY_RENEWAL = (
    "Chance (0-1) the account leaves at its next renewal or before it (a last day up to the "
    "grace gap after the renewal counts); null when the renewal is unknown, or without a curve"
)


class AccountRisk(BaseModel):
    """An account's churn risk from the latest weekly scores."""

    account_id: str
    as_of: dt.date = Field(description="The Monday the scores describe (data known that day)")
    horizon_days: int | None = Field(
        description="Days after as_of that probability covers (the model's horizon)"
    )
    probability: float = Field(
        description="Chance (0-1) the account's subscription ends within horizon_days of as_of"
    )
    tier: int = Field(description="Model tier on the managers' scale, 1 = highest risk, 4 lowest")
    manager_rating: int | None = Field(description="The manager's current rating, 1-4")
    rating_age_days: int | None = Field(description="Days since the manager last rated it")
    days_since_contact: int | None = Field(description="Days since the last manager contact")
    revenue_at_risk: float = Field(
        description="Monthly recurring revenue (the export's currency) x probability"
    )
    probability_change: float | None = Field(
        description="Probability minus the previous week's (same model), -1 to 1"
    )
    reasons_up: list[str] = Field(description="What raises the probability most, strongest first")
    reasons_down: list[str] = Field(description="What lowers it most, strongest first")
    movers: list[str] = Field(
        description="What moved most since the previous week, with the change in points"
    )
    model_version: str | None = Field(description="Registered version of the model that scored")
    risk_curve: list[CurvePoint] | None = Field(
        None, description=RISK_CURVE + "Null when the week was scored without a curve"
    )
    next_renewal: dt.date | None = Field(
        None,
        description="The next renewal date known on as_of (before as_of in a payment lapse); "
        "null when unknown",
    )
    days_to_renewal: int | None = Field(
        None, description="next_renewal minus as_of in days (negative in a payment lapse)"
    )
    p_churn_by_renewal: float | None = Field(None, description=P_BY_RENEWAL)


class RiskBatchRequest(BaseModel):
    """Account ids to look up."""

    model_config = ConfigDict(extra="forbid")
    account_ids: list[str] = Field(min_length=1)


class RiskBatchResponse(BaseModel):
    """Known accounts' risk, and the ids that are not in the latest scores."""

    results: list[AccountRisk]
    unknown: list[str]


class PredictRequest(BaseModel):
    """Feature rows to score live; every feature of GET /v1/model, null when unknown."""

    model_config = ConfigDict(extra="forbid")
    rows: list[dict[str, float | bool | str | None]] = Field(min_length=1)


class Prediction(BaseModel):
    """Live score of one row."""

    probability: float = Field(
        description="Chance (0-1) of churn within the model's horizon_days (GET /v1/model)"
    )
    tier: int = Field(description="1 = highest risk, 4 lowest")
    reasons_up: list[str]
    reasons_down: list[str]
    risk_curve: list[CurvePoint] | None = Field(
        None,
        description=RISK_CURVE + "Null for a model trained before the risk curve",
    )
    next_renewal: dt.date | None = Field(
        None, description="Always null: a live row has no as_of (see days_to_renewal)"
    )
    days_to_renewal: int | None = Field(
        None, description="The row's account_days_to_renewal; null when not sent or unknown"
    )
    p_churn_by_renewal: float | None = Field(None, description=P_BY_RENEWAL)


class PredictResponse(BaseModel):
    """One prediction per row, in order."""

    predictions: list[Prediction]
    model_version: str | None


class MonitorCard(BaseModel):
    """The essentials of the monitor's last pass (`outputs/monitor/summary.json`)."""

    status: str
    newest_week: str | None = None
    monitored_version: str | None = Field(None, description="Model version the monitor checked")
    last_judged_week: str | None = Field(None, description="Newest out-of-sample week judged")
    realized_roc_auc: float | None = None
    calibration: str | None = Field(None, description="holds, drifting, recalibrated, waiting")
    calibration_in_the_large: float | None = None
    recalibrated_version: str | None = Field(None, description="New champion, when refitted")
    score_psi: float | None = None
    drifting_features: list[str] = Field(default_factory=list)
    retrain: bool = False
    reasons: list[str] = Field(default_factory=list)


class ModelCard(BaseModel):
    """The model that scores."""

    name: str | None
    version: str | None
    alias: str | None = Field(description="Registry alias: champion, challenger or none")
    trained_at: dt.datetime | None
    horizon_days: int | None = Field(
        None, description="Days ahead every probability of this model covers"
    )
    role: str | None = Field(
        None,
        description="production: the evaluated recipe refitted on every labeled week; "
        "evaluated: the model fitted on the training period only",
    )
    data_through: dt.date | None = Field(
        None, description="The last labeled Monday the model learned from"
    )
    vouched_by: str | None = Field(
        None, description="The evaluated version whose test weeks vouch for this model's recipe"
    )
    calibration_method: str | None
    test_metrics: dict[str, Any]
    tiers: dict[str, Any]
    features: list[dict[str, Any]]
    scores_as_of: dt.date | None = Field(description="The Monday of the scores served")
    skew: SkewCheck | None = Field(
        None,
        description="The served week's features against the model's training rows (from the "
        "scored week's summary.json; null for a week scored before the skew guard)",
    )
    monitor: MonitorCard | None = Field(
        None,
        description="The monitor's last pass (outputs/monitor/summary.json beside the train "
        "folder); null when the monitor has not run",
    )
    loaded_at: dt.datetime


class Health(BaseModel):
    """Liveness / readiness."""

    status: str
    detail: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Missing or wrong X-API-Key"},
    413: {"model": Error, "description": "Request body over CHURN_MAX_BODY_BYTES"},
    422: {"model": Error, "description": "Invalid request (every invalid field in details)"},
    403: {"model": Error, "description": "The route needs an admin key (CHURN_ADMIN_KEYS)"},
    503: {"model": Error, "description": "Scores or model not loaded (the message says why)"},
    504: {"model": Error, "description": "Request took longer than the timeout"},
}
