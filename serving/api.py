"""The risk API the CRM calls: batch scores by account, live scoring, the model card.

`create_app(settings)` builds the FastAPI app. Scores and model are loaded into one immutable
`Loaded` bundle; a reload (POST /v1/admin/reload, or the watcher noticing a new scored week
or a new champion) builds the next bundle off the request path and swaps the reference, so a
request sees the old bundle or the new one, never a mix, and none fails during the swap.
Lookups return JSON bytes prepared at load time. SHAP and the training code are never
imported on the lookup path.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hmac
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import orjson
import pandas as pd
from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.settings import Settings
from serving.skew import SkewCheck

log = logging.getLogger("churn.api")
access = logging.getLogger("churn.access")


# ---------------------------------------------------------------- response and request shapes
class ErrorBody(BaseModel):
    """What went wrong, for a machine and a person."""

    code: str
    message: str
    request_id: str | None = None


class Error(BaseModel):
    """Every error response."""

    error: ErrorBody


class AccountRisk(BaseModel):
    """An account's churn risk from the latest weekly scores."""

    account_id: str
    as_of: str = Field(description="Snapshot date the scores describe")
    probability: float = Field(description="Chance the account churns within the horizon")
    tier: int = Field(description="Model tier on the managers' scale, 1 = highest risk")
    manager_rating: int | None
    rating_age_days: int | None
    days_since_contact: int | None
    revenue_at_risk: float = Field(description="MRR x probability")
    probability_change: float | None = Field(description="Against the previous week")
    reasons_up: list[str]
    reasons_down: list[str]
    movers: list[str] = Field(description="What moved most since the previous week")
    model_version: str | None


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

    probability: float
    tier: int
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


def monitor_card(summary: dict[str, Any]) -> dict[str, Any]:
    """The monitor's summary.json cut to what `GET /v1/model` shows."""
    cal, drift = summary.get("calibration", {}), summary.get("drift", {})
    advice = summary.get("recommendation", {})
    return {
        "status": summary.get("status", "unknown"),
        "newest_week": summary.get("newest_week"),
        "monitored_version": (summary.get("model") or {}).get("version"),
        "last_judged_week": (summary.get("weeks") or {}).get("last_judged_week"),
        "realized_roc_auc": (summary.get("realized") or {}).get("roc_auc"),
        "calibration": cal.get("status"),
        "calibration_in_the_large": cal.get("calibration_in_the_large"),
        "recalibrated_version": (cal.get("recalibrated") or {}).get("version"),
        "score_psi": (drift.get("score") or {}).get("psi"),
        "drifting_features": [f["name"] for f in (drift.get("features") or {}).get("flagged", [])],
        "retrain": bool(advice.get("retrain", False)),
        "reasons": advice.get("reasons", []),
    }


class ModelCard(BaseModel):
    """The model that scores."""

    name: str | None
    version: str | None
    alias: str | None
    trained_at: str | None
    role: str | None = Field(
        None,
        description="production: the evaluated recipe refitted on every labeled week; "
        "evaluated: the model fitted on the training period only",
    )
    data_through: str | None = Field(
        None, description="The last labeled Monday (YYYY-MM-DD) the model learned from"
    )
    vouched_by: str | None = Field(
        None, description="The evaluated version whose test weeks vouch for this model's recipe"
    )
    calibration_method: str | None
    test_metrics: dict[str, Any]
    tiers: dict[str, Any]
    features: list[dict[str, Any]]
    scores_as_of: str | None
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
    loaded_at: str


class Health(BaseModel):
    """Liveness / readiness."""

    status: str
    detail: str | None = None


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Error, "description": "Missing or wrong X-API-Key"},
    413: {"model": Error, "description": "Request body over CHURN_MAX_BODY_BYTES"},
    422: {"model": Error, "description": "Invalid request (the message names the field)"},
    503: {"model": Error, "description": "Scores or model not loaded yet"},
    504: {"model": Error, "description": "Request took longer than the timeout"},
}


class ApiError(Exception):
    """An error answered as JSON with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


# ---------------------------------------------------------------- what is loaded
@dataclass(frozen=True)
class Loaded:
    """Scores and model, loaded together and swapped together."""

    lookup: dict[str, bytes]  # account id -> AccountRisk JSON
    records: dict[str, dict[str, Any]]
    as_of: str | None
    scores_source: str | None
    model_card: dict[str, Any]
    predictor: Any  # serving.live.LivePredictor
    champion_run: str | None
    loaded_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat())


def _int(value: Any) -> int | None:
    return None if value is None or pd.isna(value) else int(value)


def _float(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def load_scores(folder: Path, version: str | None) -> tuple[dict[str, dict[str, Any]], str | None]:
    """AccountRisk records of a scored week folder."""
    frame = pd.read_parquet(Path(folder) / "scores.parquet")
    records: dict[str, dict[str, Any]] = {}
    for r in frame.to_dict("records"):
        records[str(r["account_id"])] = {
            "account_id": str(r["account_id"]),
            "as_of": str(pd.Timestamp(r["as_of"]).date()),
            "probability": float(r["probability"]),
            "tier": int(r["tier"]),
            "manager_rating": _int(r["manager_rating"]),
            "rating_age_days": _int(r["rating_age_days"]),
            "days_since_contact": _int(r["days_since_contact"]),
            "revenue_at_risk": float(r["revenue_at_risk"]),
            "probability_change": _float(r["probability_change"]),
            "reasons_up": list(r["reasons_up"]),
            "reasons_down": list(r["reasons_down"]),
            "movers": list(r["movers"]),
            "model_version": version,
        }
    as_of = str(next(iter(records.values()))["as_of"]) if records else None
    return records, as_of


def load(settings: Settings) -> Loaded:
    """Read the scored week and the model named by the settings (slow; off the request path)."""
    from serving.live import LivePredictor
    from serving.models import load_scoring_model
    from training.stages import load_model

    if settings.model == "champion":
        model, meta = load_scoring_model(settings.train_dir, settings.mlflow_dir, "churn-risk")
    else:
        model, meta = load_model(Path(settings.model))
    manifest = meta.get("feature_manifest")
    if manifest is None:
        manifest = json.loads((settings.features_dir / "manifest.json").read_text())["features"]
    predictor = LivePredictor(model, meta, manifest)
    folder = Path(settings.scores_dir)
    version = meta.get("model_version")
    records, as_of = (
        load_scores(folder, version) if (folder / "scores.parquet").exists() else ({}, None)
    )
    summary_path = folder / "summary.json"
    summary = json.loads(summary_path.read_text()) if summary_path.exists() else {}
    vouched = meta.get("vouched_by") or {}
    test = vouched.get("test_metrics")
    metrics_path = settings.train_dir / "metrics.json"
    if test is None:  # a model saved before production refits: its own test figures
        test = json.loads(metrics_path.read_text()).get("test", {}) if metrics_path.exists() else {}
    card = {
        "name": meta.get("model_name"),
        "version": version,
        "alias": meta.get("alias"),
        "trained_at": meta.get("trained_at"),
        "role": meta.get("role"),
        "data_through": meta.get("data_through"),
        "vouched_by": vouched.get("model_version"),
        "calibration_method": meta.get("calibration_method"),
        "test_metrics": test,
        "tiers": meta.get("tiers", {}),
        "features": [
            {k: f.get(k) for k in ("name", "dtype", "unit", "description")}
            for f in predictor.entries.values()
        ],
        "scores_as_of": as_of,
        "skew": summary.get("skew"),
    }
    monitor_path = Path(settings.train_dir).parent / "monitor" / "summary.json"
    if monitor_path.exists():
        card["monitor"] = monitor_card(json.loads(monitor_path.read_text()))
    return Loaded(
        lookup={k: orjson.dumps(v) for k, v in records.items()},
        records=records,
        as_of=as_of,
        scores_source=str(folder.resolve()) if folder.exists() else None,
        model_card=card,
        predictor=predictor,
        champion_run=meta.get("mlflow_run_id"),
    )


# ---------------------------------------------------------------- the app
# Dependencies and routes that only read memory are `async`: FastAPI runs a plain `def` in its
# thread pool, a hop that costs more than the lookup itself. Live predict scores a few rows in
# place (well under a millisecond) and hands larger requests to the pool, so that a 100-row
# request does not hold up the event loop.
INLINE_PREDICT_ROWS = 4


async def _current(request: Request) -> Loaded:
    loaded = request.app.state.loaded
    if loaded is None:
        raise ApiError(503, "not_ready", "scores and model are not loaded yet")
    return loaded


Current = Annotated[Loaded, Depends(_current)]


def create_app(settings: Settings | None = None, *, preload: Loaded | None = None) -> FastAPI:
    """The API; `preload` skips the first load (tests)."""
    settings = settings or Settings()
    keys = [k.encode() for k in settings.api_key_list()]
    if not keys:
        log.warning("no API key configured (CHURN_API_KEYS / CHURN_API_KEYS_FILE): /v1 answers 401")

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if app.state.loaded is None:
            await reload_now(app)
        watcher = None
        if settings.watch_seconds > 0:
            watcher = asyncio.create_task(_watch(app, settings))
        yield
        if watcher is not None:
            watcher.cancel()

    app = FastAPI(
        title="Churn risk API",
        version="1",
        description="Churn risk per account for the CRM: the weekly scores, live scoring of a "
        "feature payload, and the model card. Every /v1 route needs the X-API-Key header.",
        lifespan=lifespan,
        responses=ERRORS,
    )
    app.state.settings = settings
    app.state.loaded = preload
    app.state.reload_lock = asyncio.Lock()

    async def reload_now(app_: FastAPI) -> Loaded:
        async with app_.state.reload_lock:
            loaded = await asyncio.to_thread(load, settings)
            app_.state.loaded = loaded  # one reference swap: requests see old or new
            log.info(
                "loaded scores of %s (%d accounts) and model version %s",
                loaded.as_of,
                len(loaded.lookup),
                loaded.model_card["version"],
            )
            return loaded

    app.state.reload_now = reload_now

    async def api_key(request: Request) -> None:
        given = request.headers.get("x-api-key", "").encode()
        ok = False
        for key in keys:  # every key compared, in constant time
            ok |= hmac.compare_digest(given, key)
        if not ok:
            raise ApiError(401, "unauthorized", "missing or wrong X-API-Key")

    _install_errors(app)
    app.add_middleware(_Guard, settings=settings)

    @app.get("/healthz", response_model=Health, tags=["health"])
    async def healthz() -> Health:
        """The process is alive."""
        return Health(status="ok")

    @app.get("/readyz", response_model=Health, tags=["health"], responses={503: {"model": Health}})
    async def readyz(request: Request) -> Any:
        """Model and scores are loaded."""
        loaded = request.app.state.loaded
        if loaded is None or not loaded.lookup:
            detail = "model not loaded" if loaded is None else "no scores loaded"
            return JSONResponse({"status": "not_ready", "detail": detail}, status_code=503)
        return Health(status="ready", detail=f"scores of {loaded.as_of}")

    v1 = [Depends(api_key)]

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
        """Live score of feature rows, validated against the model's features."""
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

    @app.post("/v1/admin/reload", response_model=Health, dependencies=v1, tags=["admin"])
    async def reload(request: Request) -> Health:
        """Load the newest scores and champion, then swap them in (no request fails)."""
        try:
            loaded = await reload_now(request.app)
        except Exception as err:  # the old bundle stays in service
            log.exception("reload failed; still serving the previous scores and model")
            raise ApiError(503, "reload_failed", f"reload failed: {type(err).__name__}") from None
        return Health(status="reloaded", detail=f"scores of {loaded.as_of}")

    return app


async def _watch(app: FastAPI, settings: Settings) -> None:
    """Reload when the scored week or the champion changes (polling, cheap checks)."""
    while True:
        await asyncio.sleep(settings.watch_seconds)
        loaded: Loaded | None = app.state.loaded
        try:
            source = str(Path(settings.scores_dir).resolve())
            run = await asyncio.to_thread(_champion_run, settings)
            if loaded is None or source != loaded.scores_source or run != loaded.champion_run:
                await app.state.reload_now(app)
        except Exception:
            log.exception("watcher: reload failed; still serving the previous bundle")


def _champion_run(settings: Settings) -> str | None:
    if settings.model != "champion":
        return None
    from serving.models import champion_version

    version = champion_version(settings.mlflow_dir, "churn-risk")
    return None if version is None else version.run_id


# ---------------------------------------------------------------- errors, limits, access log
def _error(status: int, code: str, message: str, request: Request) -> JSONResponse:
    rid = request.scope.get("state", {}).get("request_id")
    return JSONResponse(
        {"error": {"code": code, "message": message, "request_id": rid}}, status_code=status
    )


def _install_errors(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, err: ApiError) -> JSONResponse:
        return _error(err.status, err.code, err.message, request)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, err: RequestValidationError) -> JSONResponse:
        first = err.errors()[0] if err.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return _error(422, "invalid_request", f"{where}: {first.get('msg', 'invalid')}", request)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, err: StarletteHTTPException) -> JSONResponse:
        return _error(err.status_code, "http_error", str(err.detail), request)

    @app.exception_handler(Exception)
    async def crash(request: Request, err: Exception) -> JSONResponse:
        log.exception("unhandled error")
        return _error(500, "internal", "internal error", request)


Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]


REQUEST_ID_CHARS = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.:/+="
)


def request_id(raw: bytes) -> str:
    """The caller's `X-Request-ID` when it is 1-64 plain characters, else a fresh one.

    Anything else (bytes that are not ASCII, spaces, control characters, over 64 characters)
    is replaced rather than refused: the id only ties log lines together, and echoing a
    header back must never fail the request.
    """
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError:
        text = ""
    if 0 < len(text) <= 64 and set(text) <= REQUEST_ID_CHARS:
        return text
    return uuid.uuid4().hex


class _Guard:
    """Pure ASGI middleware: request id, body limit, timeout, JSON access log (never the key)."""

    def __init__(self, app: Any, settings: Settings) -> None:
        self.app, self.settings = app, settings

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = request_id(headers.get(b"x-request-id", b""))
        scope.setdefault("state", {})["request_id"] = rid
        status = {"code": 500, "sent": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        limit = self.settings.max_body_bytes
        length = headers.get(b"content-length")
        try:
            if length is not None and int(length) > limit:
                await self._reply(send_with_id, 413, "too_large", f"body over {limit} bytes", rid)
            else:
                await asyncio.wait_for(
                    self.app(scope, _bounded(receive, limit), send_with_id),
                    self.settings.request_timeout_seconds,
                )
        except TimeoutError:
            if not status["sent"]:
                await self._reply(send_with_id, 504, "timeout", "request timed out", rid)
        except _TooLarge:
            if not status["sent"]:
                await self._reply(send_with_id, 413, "too_large", f"body over {limit} bytes", rid)
        finally:
            access.info(
                json.dumps(
                    {
                        "request_id": rid,
                        "method": scope.get("method"),
                        "path": scope.get("path"),
                        "status": status["code"],
                        "ms": round((time.perf_counter() - started) * 1000, 3),
                        "client": (scope.get("client") or ["?"])[0],
                    }
                )
            )

    @staticmethod
    async def _reply(send: Send, status: int, code: str, message: str, rid: str) -> None:
        body = orjson.dumps({"error": {"code": code, "message": message, "request_id": rid}})
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass


def _bounded(receive: Receive, limit: int) -> Receive:
    """`receive` that stops a streamed body past `limit` bytes."""
    seen = 0

    async def inner() -> dict[str, Any]:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _TooLarge
        return message

    return inner


def app_factory() -> FastAPI:
    """What `churn serve` (uvicorn --factory) starts: settings from the environment."""
    return create_app(Settings())
