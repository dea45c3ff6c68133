"""Every error the API answers, as one JSON shape: `ApiError` and the app's handlers."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from serving.guard import error_body

log = logging.getLogger("churn.api")


class ApiError(Exception):
    """An error answered as JSON with its status."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def error_response(
    status: int,
    code: str,
    message: str,
    rid: str | None = None,
    headers: dict | None = None,
    details: list[dict[str, str]] | None = None,
) -> JSONResponse:
    """The JSON answer of an error (`serving.guard.error_body`) with its status."""
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
    return error_response(status, code, message, rid, details=details)


def install_errors(app: FastAPI) -> None:
    """Answer ApiError, invalid requests, HTTP errors and crashes with the one error shape."""

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
