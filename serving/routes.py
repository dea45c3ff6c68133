"""The risk API's routes on one `APIRouter`, and the dependencies they declare.

Dependencies and routes that only read memory are `async`: FastAPI runs a plain `def` in its
thread pool, a hop that costs more than the lookup itself. Live predict scores a few rows in
place (well under a millisecond) and hands larger requests to the pool, so that a 100-row
request does not hold up the event loop.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from starlette.concurrency import run_in_threadpool

from serving.bundle import Loaded, LoadError
from serving.errors import ApiError, error_response
from serving.schemas import (
    AccountRisk,
    Error,
    Health,
    ModelCard,
    PredictRequest,
    PredictResponse,
    RiskBatchRequest,
    RiskBatchResponse,
)

if TYPE_CHECKING:
    from serving.api import Service

INLINE_PREDICT_ROWS = 4
KEY_HEADER = APIKeyHeader(
    name="X-API-Key",
    auto_error=False,
    description="A CRM key (CHURN_API_KEYS) reads; an admin key (CHURN_ADMIN_KEYS) may also "
    "reload.",
)


async def _caller(request: Request, _key: str | None = Security(KEY_HEADER)) -> str:
    """The role the guard found for the caller's key (the guard already refused the rest)."""
    role = request.scope.get("state", {}).get("role")
    if role is None:  # only reachable when the app runs without its guard
        raise ApiError(401, "unauthorized", "missing or wrong X-API-Key")
    return str(role)


async def _service(request: Request) -> Service:
    service: Service = request.app.state.service
    return service


ServiceDep = Annotated["Service", Depends(_service)]


async def _current(service: ServiceDep) -> Loaded:
    loaded = service.loaded
    if loaded is None:
        raise ApiError(503, "not_ready", f"scores and model are not loaded: {service.problem}")
    return loaded


Current = Annotated[Loaded, Depends(_current)]
V1 = [Depends(_caller)]

router = APIRouter()


@router.get("/healthz", response_model=Health, tags=["health"])
async def healthz() -> Health:
    """The process is alive (whether or not anything is loaded)."""
    return Health(status="ok")


@router.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
async def readyz(service: ServiceDep) -> Any:
    """Scores, model and keys are loaded; otherwise 503 with the reason."""
    ready, detail = service.readiness()
    if not ready:
        return JSONResponse({"status": "not_ready", "detail": detail}, status_code=503)
    return Health(status="ready", detail=detail)


@router.get(
    "/v1/accounts/{account_id}/risk",
    response_model=AccountRisk,
    dependencies=V1,
    tags=["risk"],
    responses={404: {"model": Error, "description": "Account not in the latest scores"}},
)
async def account_risk(account_id: str, loaded: Current) -> Response:
    """An account's risk from the latest weekly scores."""
    body = loaded.lookup.get(account_id)
    if body is None:
        raise ApiError(404, "unknown_account", "account not in the latest scores")
    return Response(content=body, media_type="application/json")


@router.post("/v1/accounts/risk", response_model=RiskBatchResponse, dependencies=V1, tags=["risk"])
async def accounts_risk(body: RiskBatchRequest, loaded: Current, service: ServiceDep) -> Any:
    """The same for a list of ids (at most CHURN_MAX_BATCH)."""
    most = service.settings.max_batch
    if len(body.account_ids) > most:
        raise ApiError(422, "too_many_ids", f"at most {most} account_ids (CHURN_MAX_BATCH)")
    found = [loaded.records[i] for i in body.account_ids if i in loaded.records]
    unknown = [i for i in body.account_ids if i not in loaded.records]
    return Response(
        orjson.dumps({"results": found, "unknown": unknown}), media_type="application/json"
    )


@router.post("/v1/predict", response_model=PredictResponse, dependencies=V1, tags=["risk"])
async def predict(body: PredictRequest, loaded: Current, service: ServiceDep) -> Any:
    """Live score of feature rows, validated against the model's features.

    Unknown category levels and numbers far outside the training range are refused by
    name (422); see CHURN_PREDICT_RANGE_MARGIN.
    """
    from serving.live import FeatureError

    most = service.settings.max_predict_rows
    if len(body.rows) > most:
        raise ApiError(422, "too_many_rows", f"at most {most} rows (CHURN_MAX_PREDICT_ROWS)")
    try:
        if len(body.rows) <= INLINE_PREDICT_ROWS:
            predictions = loaded.predictor.predict(body.rows)
        else:
            predictions = await run_in_threadpool(loaded.predictor.predict, body.rows)
    except FeatureError as err:
        raise ApiError(422, "invalid_feature", str(err)) from None
    return Response(
        orjson.dumps({"predictions": predictions, "model_version": loaded.model_card["version"]}),
        media_type="application/json",
    )


@router.get("/v1/model", response_model=ModelCard, dependencies=V1, tags=["model"])
async def model_card(loaded: Current) -> Any:
    """Name, version, alias, training date, test metrics and features of the model."""
    return loaded.model_card | {"loaded_at": loaded.loaded_at}


@router.post(
    "/v1/admin/reload",
    response_model=Health,
    dependencies=V1,
    tags=["admin"],
    responses={429: {"model": Error, "description": "Within CHURN_RELOAD_MIN_SECONDS"}},
)
async def reload(service: ServiceDep) -> Any:
    """Load the newest scores and model and swap them in (admin key; no request fails).

    The guard lets only admin keys reach /v1/admin (403 otherwise). At most one reload
    per CHURN_RELOAD_MIN_SECONDS (429 with Retry-After otherwise). When scores or model
    cannot be loaded the old ones keep serving: 503 `reload_failed`.
    """
    least = service.settings.reload_min_seconds
    wait = service.last_admin_reload + least - time.monotonic()
    if wait > 0:
        return error_response(
            429,
            "reload_too_soon",
            f"reloaded less than {least:g} s ago (CHURN_RELOAD_MIN_SECONDS)",
            headers={"Retry-After": str(math.ceil(wait))},
        )
    service.last_admin_reload = time.monotonic()
    try:
        outcome = await service.reload()
    except LoadError as err:
        raise ApiError(503, "reload_failed", f"reload failed: {err}") from None
    _, detail = service.readiness()
    return Health(status=outcome, detail=detail)
