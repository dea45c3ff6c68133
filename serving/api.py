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
`serving.guard`, in front of FastAPI; the routes in `serving.routes`, their bodies in
`serving.schemas`, the error answers in `serving.errors`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI

from serving.bundle import Loaded, LoadError, identity, load
from serving.errors import install_errors
from serving.guard import Guard, Keys, key_files, load_keys
from serving.routes import INLINE_PREDICT_ROWS, router
from serving.schemas import ERRORS, MonitorCard
from serving.settings import Settings

log = logging.getLogger("churn.api")

# Imported from here by tests and benchmarks.
__all__ = ["INLINE_PREDICT_ROWS", "LOADING", "MonitorCard", "Service", "app_factory", "create_app"]


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

    install_errors(app)
    app.add_middleware(Guard, settings=settings, keys=lambda: service.keys)
    app.include_router(router)
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


def app_factory() -> FastAPI:
    """What `churn serve` (uvicorn --factory) starts: settings from the environment."""
    logging.captureWarnings(True)  # a library's warning becomes a JSON log line too
    return create_app(Settings())
