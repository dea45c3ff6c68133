"""The risk API the CRM calls: batch scores by account, live scoring, the model card.

`create_app(settings)` builds the FastAPI app around a `Service`: the API keys and one
immutable `Loaded` bundle (a scored week and the model that scored it, `serving.bundle`).

It never fails open. The process starts at once and loads in the background: `/healthz`
answers from the first moment, `/readyz` and `/v1` answer 503 with the reason until a bundle
is in. A reload (POST /v1/admin/reload with an admin key, or the watcher seeing another scored
week, model or key file) builds the next bundle off the request path and swaps the reference
only when scores and model both loaded and agree; otherwise the old bundle keeps serving, the
reload answers 503 `reload_failed` naming what is missing, and the log and `/readyz` say so.
Lookups return JSON bytes prepared at load time; SHAP and the training code are never
imported on the lookup path. Keys, body limit, timeout and the access log live in
`serving.guard`, in front of FastAPI.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Annotated, Any

import orjson
from fastapi import Depends, FastAPI, Request, Security
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.security import APIKeyHeader
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.bundle import Loaded, LoadError, identity, load
from serving.guard import Guard, Keys, error_body, key_files, load_keys
from serving.settings import Settings
from serving.skew import SkewCheck

log = logging.getLogger("churn.api")


# ---------------------------------------------------------------- response and request shapes
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


class ApiError(Exception):
    """An error answered as JSON with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------- what the service holds
LOADING = "loading scores and model"  # /readyz's reason while the first load runs


@dataclass
class Service:
    """The keys, the bundle in service, and why it is not ready (None when it is)."""

    settings: Settings
    keys: Keys
    loaded: Loaded | None = None
    problem: str | None = LOADING  # why nothing is loaded yet
    last_failure: str | None = None  # the last reload's failure, while an older bundle serves
    attempted: tuple[Any, ...] | None = None  # what the last reload tried to load
    last_admin_reload: float = -math.inf  # time.monotonic() of the last admin reload
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def refresh_keys(self) -> None:
        """Reread the key settings and files (a key file fixed or rotated needs no restart)."""
        keys = load_keys(self.settings)
        if keys.problem and keys.problem != self.keys.problem:
            log.warning("API keys: %s", keys.problem)
        self.keys = keys

    async def reload(self, *, force: bool = True) -> str:
        """Load what the settings name and swap it in: "reloaded", or LoadError.

        On LoadError the old bundle keeps serving. Without `force` (the watcher), what is
        already loaded, or was already tried and failed, is not loaded again: "unchanged".
        """
        async with self.lock:
            self.refresh_keys()
            seen = await asyncio.to_thread(identity, self.settings)
            current = self.loaded.identity if self.loaded is not None else None
            if not force and seen in (current, self.attempted):
                return "unchanged"
            self.attempted = seen
            try:
                loaded = await asyncio.to_thread(load, self.settings)
            except Exception as err:
                reason = str(err) if isinstance(err, LoadError) else type(err).__name__
                if not isinstance(err, LoadError):
                    log.exception("loading scores and model failed")
                self._failed(reason)
                raise LoadError(reason) from None
            self.loaded, self.problem, self.last_failure = loaded, None, None  # one swap
            log.info(
                "loaded scores of %s (%d accounts) and model version %s",
                loaded.as_of,
                len(loaded.lookup),
                loaded.model_card["version"],
            )
            return "reloaded"

    def _failed(self, reason: str) -> None:
        self.last_failure = reason
        if self.loaded is None:
            self.problem = reason
            log.error("nothing to serve: %s", reason)
        else:
            log.error(
                "reload failed: %s; still serving scores of %s, model version %s",
                reason,
                self.loaded.as_of,
                self.loaded.model_card["version"],
            )

    def readiness(self) -> tuple[bool, str]:
        """Whether `/v1` can answer, and what to say about it."""
        reasons = [r for r in (self.problem, self.keys.problem) if r]
        if self.loaded is None or self.keys.problem:
            return False, "; ".join(reasons)
        detail = f"scores of {self.loaded.as_of}, model version {self.loaded.model_card['version']}"
        if self.last_failure:
            detail += f" (the last reload failed: {self.last_failure})"
        return True, detail


# ---------------------------------------------------------------- the app
# Dependencies and routes that only read memory are `async`: FastAPI runs a plain `def` in its
# thread pool, a hop that costs more than the lookup itself. Live predict scores a few rows in
# place (well under a millisecond) and hands larger requests to the pool, so that a 100-row
# request does not hold up the event loop.
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


async def _current(request: Request) -> Loaded:
    service: Service = request.app.state.service
    loaded = service.loaded
    if loaded is None:
        raise ApiError(503, "not_ready", f"scores and model are not loaded: {service.problem}")
    return loaded


Current = Annotated[Loaded, Depends(_current)]


def create_app(settings: Settings | None = None, *, preload: Loaded | None = None) -> FastAPI:
    """The API; `preload` skips the first load (tests)."""
    settings = settings or Settings()
    service = Service(settings, load_keys(settings), loaded=preload)
    if preload is not None:
        service.problem = None
    if service.keys.problem:
        log.warning("API keys: %s; /readyz answers 503", service.keys.problem)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = []
        if service.loaded is None:  # load in the background: /healthz answers meanwhile
            tasks.append(asyncio.create_task(_first_load(service)))
        if settings.watch_seconds > 0:
            tasks.append(asyncio.create_task(_watch(service)))
        yield
        for task in tasks:
            task.cancel()

    docs = settings.docs
    app = FastAPI(
        title="Churn risk API",
        version="1",
        description="Churn risk per account for the CRM: the weekly scores, live scoring of a "
        "feature payload, and the model card. Every /v1 route needs the X-API-Key header; "
        "/v1/admin routes need an admin key.",
        lifespan=lifespan,
        responses=ERRORS,
        docs_url="/docs" if docs else None,
        redoc_url="/redoc" if docs else None,
        openapi_url="/openapi.json" if docs else None,
    )
    app.state.settings = settings
    app.state.service = service

    _install_errors(app)
    app.add_middleware(Guard, settings=settings, keys=lambda: service.keys)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process is alive (whether or not anything is loaded)."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def readyz() -> Any:
        """Scores, model and keys are loaded; otherwise 503 with the reason."""
        ready, detail = service.readiness()
        if not ready:
            return JSONResponse({"status": "not_ready", "detail": detail}, status_code=503)
        return Health(status="ready", detail=detail)

    v1 = [Depends(_caller)]

    @app.get(
        "/v1/accounts/{account_id}/risk",
        response_model=AccountRisk,
        dependencies=v1,
        tags=["risk"],
        responses={404: {"model": Error, "description": "Account not in the latest scores"}},
    )
    async def account_risk(account_id: str, loaded: Current) -> Response:
        """An account's risk from the latest weekly scores."""
        body = loaded.lookup.get(account_id)
        if body is None:
            raise ApiError(404, "unknown_account", "account not in the latest scores")
        return Response(content=body, media_type="application/json")

    @app.post("/v1/accounts/risk", response_model=RiskBatchResponse, dependencies=v1, tags=["risk"])
    async def accounts_risk(body: RiskBatchRequest, loaded: Current) -> Any:
        """The same for a list of ids (at most CHURN_MAX_BATCH)."""
        if len(body.account_ids) > settings.max_batch:
            raise ApiError(
                422, "too_many_ids", f"at most {settings.max_batch} account_ids (CHURN_MAX_BATCH)"
            )
        found = [loaded.records[i] for i in body.account_ids if i in loaded.records]
        unknown = [i for i in body.account_ids if i not in loaded.records]
        return Response(
            orjson.dumps({"results": found, "unknown": unknown}), media_type="application/json"
        )

    @app.post("/v1/predict", response_model=PredictResponse, dependencies=v1, tags=["risk"])
    async def predict(body: PredictRequest, loaded: Current) -> Any:
        """Live score of feature rows, validated against the model's features.

        Unknown category levels and numbers far outside the training range are refused by
        name (422); see CHURN_PREDICT_RANGE_MARGIN.
        """
        from serving.live import FeatureError

        if len(body.rows) > settings.max_predict_rows:
            raise ApiError(
                422,
                "too_many_rows",
                f"at most {settings.max_predict_rows} rows (CHURN_MAX_PREDICT_ROWS)",
            )
        try:
            if len(body.rows) <= INLINE_PREDICT_ROWS:
                predictions = loaded.predictor.predict(body.rows)
            else:
                predictions = await run_in_threadpool(loaded.predictor.predict, body.rows)
        except FeatureError as err:
            raise ApiError(422, "invalid_feature", str(err)) from None
        return Response(
            orjson.dumps(
                {"predictions": predictions, "model_version": loaded.model_card["version"]}
            ),
            media_type="application/json",
        )

    @app.get("/v1/model", response_model=ModelCard, dependencies=v1, tags=["model"])
    async def model_card(loaded: Current) -> Any:
        """Name, version, alias, training date, test metrics and features of the model."""
        return loaded.model_card | {"loaded_at": loaded.loaded_at}

    @app.post(
        "/v1/admin/reload",
        response_model=Health,
        dependencies=v1,
        tags=["admin"],
        responses={429: {"model": Error, "description": "Within CHURN_RELOAD_MIN_SECONDS"}},
    )
    async def reload() -> Any:
        """Load the newest scores and model and swap them in (admin key; no request fails).

        The guard lets only admin keys reach /v1/admin (403 otherwise). At most one reload
        per CHURN_RELOAD_MIN_SECONDS (429 with Retry-After otherwise). When scores or model
        cannot be loaded the old ones keep serving: 503 `reload_failed`.
        """
        wait = service.last_admin_reload + settings.reload_min_seconds - time.monotonic()
        if wait > 0:
            return _error_response(
                429,
                "reload_too_soon",
                f"reloaded less than {settings.reload_min_seconds:g} s ago "
                "(CHURN_RELOAD_MIN_SECONDS)",
                headers={"Retry-After": str(math.ceil(wait))},
            )
        service.last_admin_reload = time.monotonic()
        try:
            outcome = await service.reload()
        except LoadError as err:
            raise ApiError(503, "reload_failed", f"reload failed: {err}") from None
        _, detail = service.readiness()
        return Health(status=outcome, detail=detail)

    return app


async def _first_load(service: Service) -> None:
    with contextlib.suppress(LoadError):  # logged; /readyz and /v1 say why meanwhile
        await service.reload()


async def _watch(service: Service) -> None:
    """Reload when the scored week, the model or a key file changes (polling, cheap checks).

    What would be loaded is compared with what is loaded (or was last tried and failed), for
    a registry champion and a model folder alike, so an unchanged service never reloads.
    """
    while True:
        await asyncio.sleep(service.settings.watch_seconds)
        try:
            if key_files(service.settings) != service.keys.files:
                service.refresh_keys()
            await service.reload(force=False)
        except LoadError:
            pass  # logged by the reload; the old bundle keeps serving
        except Exception:
            log.exception("watcher: unexpected error; still serving the previous bundle")


# ---------------------------------------------------------------- errors
def _error_response(
    status: int,
    code: str,
    message: str,
    rid: str | None = None,
    headers: dict | None = None,
    details: list[dict[str, str]] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_body(code, message, rid, details), status_code=status, headers=headers
    )


def _error(
    status: int,
    code: str,
    message: str,
    request: Request,
    details: list[dict[str, str]] | None = None,
) -> JSONResponse:
    rid = request.scope.get("state", {}).get("request_id")
    return _error_response(status, code, message, rid, details=details)


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error(err.status, err.code, err.message, request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        details = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in err.errors()
        ]
        message = "; ".join(f"{d['field']}: {d['problem']}" for d in details[:5])
        if len(details) > 5:
            message += f"; and {len(details) - 5} more"
        return _error(422, "invalid_request", message or "invalid request", request, details)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, "http_error", str(err.detail), request)

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal", "internal error", request)


def app_factory() -> FastAPI:
    """What `churn serve` (uvicorn --factory) starts: settings from the environment."""
    logging.captureWarnings(True)  # a library's warning becomes a JSON log line too
    return create_app(Settings())
