"""The risk API's front door: request ids, API keys and roles, body limit, timeout, access log.

`Guard` is pure ASGI middleware, so it decides before FastAPI reads anything: a `/v1` call
without a known key is refused before its body is read, and a body over the limit is refused
with 413 whether it came with a Content-Length or in chunks. Every refusal is JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from serving.settings import Settings

log = logging.getLogger("churn.api")
access = logging.getLogger("churn.access")

Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

READ, ADMIN = "read", "admin"
ADMIN_PREFIX = "/v1/admin/"


# ---------------------------------------------------------------- keys and roles
@dataclass(frozen=True)
class Keys:
    """The accepted API keys by role, and why the set is unusable (None when it is fine)."""

    read: tuple[bytes, ...] = ()
    admin: tuple[bytes, ...] = ()
    problem: str | None = None
    files: tuple[Any, ...] = ()  # the key files' (path, mtime), to notice an edit

    def role(self, given: bytes) -> str | None:
        """ADMIN, READ or None for the key sent; every key compared in constant time."""
        admin = read = False
        for key in self.admin:
            admin |= hmac.compare_digest(given, key)
        for key in self.read:
            read |= hmac.compare_digest(given, key)
        return ADMIN if admin else READ if read else None


def _file_keys(path: Path | None, variable: str) -> tuple[list[str], str | None]:
    if path is None:
        return [], None
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as err:
        log.warning("%s=%s cannot be read: %r", variable, path, err)
        return [], f"{variable} cannot be read ({type(err).__name__})"
    return [k.strip() for k in lines if k.strip() and not k.strip().startswith("#")], None


def key_files(settings: Settings) -> tuple[Any, ...]:
    """The key files and their modification times (None when missing)."""
    stamps: list[tuple[str, int | None]] = []
    for path in (settings.api_keys_file, settings.admin_keys_file):
        if path is not None:
            try:
                stamps.append((str(path), Path(path).stat().st_mtime_ns))
            except OSError:
                stamps.append((str(path), None))
    return tuple(stamps)


def load_keys(settings: Settings) -> Keys:
    """Read and admin keys from CHURN_API_KEYS(_FILE) and CHURN_ADMIN_KEYS(_FILE); never raises.

    An unreadable key file or no key at all is a `problem` (the service reports not ready);
    the keys that did load still work.
    """
    split = [k.strip() for k in settings.api_keys.split(",") if k.strip()]
    read, read_problem = _file_keys(settings.api_keys_file, "CHURN_API_KEYS_FILE")
    admin_split = [k.strip() for k in settings.admin_keys.split(",") if k.strip()]
    admin, admin_problem = _file_keys(settings.admin_keys_file, "CHURN_ADMIN_KEYS_FILE")
    read_keys, admin_keys = [*split, *read], [*admin_split, *admin]
    problem = read_problem or admin_problem
    if not read_keys and not admin_keys and problem is None:
        problem = "no API key configured (CHURN_API_KEYS or CHURN_API_KEYS_FILE)"
    return Keys(
        read=tuple(k.encode() for k in read_keys),
        admin=tuple(k.encode() for k in admin_keys),
        problem=problem,
        files=key_files(settings),
    )


# ---------------------------------------------------------------- request ids
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


# ---------------------------------------------------------------- the middleware
class Refused(Exception):
    """A request answered by the guard itself."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Guard:
    """Request id, auth (before the body), bounded body, timeout, JSON access log (no key)."""

    def __init__(self, app: Any, settings: Settings, keys: Callable[[], Keys]) -> None:
        self.app, self.settings, self.keys = app, settings, keys

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        """Answer refusals itself; hand everything else on with the body already read."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        headers = dict(scope.get("headers") or [])
        rid = request_id(headers.get(b"x-request-id", b""))
        state = scope.setdefault("state", {})
        state["request_id"] = rid
        status = {"code": 500, "sent": False}

        async def send_with_id(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", rid.encode())]
            await send(message)

        async def handle() -> None:
            state["role"] = self._authorize(scope.get("path", ""), headers)
            body = await self._body(headers, receive)
            await self.app(scope, _replay(body, receive), send_with_id)

        try:
            await asyncio.wait_for(handle(), self.settings.request_timeout_seconds)
        except Refused as err:
            if not status["sent"]:
                await _reply(send_with_id, err.status, err.code, err.message, rid)
        except TimeoutError:
            if not status["sent"]:
                await _reply(send_with_id, 504, "timeout", "request timed out", rid)
        finally:
            fields = {
                "request_id": rid,
                "method": scope.get("method"),
                "path": scope.get("path"),
                "status": status["code"],
                "ms": round((time.perf_counter() - started) * 1000, 3),
                "client": (scope.get("client") or ["?"])[0],
            }
            access.info("request", extra={"fields": fields})

    def _authorize(self, path: str, headers: dict[bytes, bytes]) -> str | None:
        """The caller's role on a /v1 path; Refused(401/403) when it may not call it."""
        if not path.startswith("/v1/") and path != "/v1":
            return None
        role = self.keys().role(headers.get(b"x-api-key", b""))
        if role is None:
            raise Refused(401, "unauthorized", "missing or wrong X-API-Key")
        if path.startswith(ADMIN_PREFIX) and role != ADMIN:
            raise Refused(403, "forbidden", "this route needs an admin key (CHURN_ADMIN_KEYS)")
        return role

    async def _body(self, headers: dict[bytes, bytes], receive: Receive) -> bytes:
        """The whole request body, refused past CHURN_MAX_BODY_BYTES however it is sent."""
        limit = self.settings.max_body_bytes
        too_large = Refused(413, "too_large", f"body over {limit} bytes (CHURN_MAX_BODY_BYTES)")
        length = headers.get(b"content-length")
        if length is not None:
            try:
                declared = int(length)
            except ValueError:
                raise Refused(400, "bad_request", "Content-Length is not a number") from None
            if declared > limit:
                raise too_large
        chunks, seen = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                raise too_large
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A `receive` that hands the app the body already read, then the real events."""
    sent = False

    async def inner() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return inner


def error_body(
    code: str, message: str, rid: str | None, details: list[dict[str, str]] | None = None
) -> dict[str, Any]:
    """Every error answer's JSON: {"error": {"code", "message", "request_id"[, "details"]}}."""
    error: dict[str, Any] = {"code": code, "message": message, "request_id": rid}
    if details is not None:
        error["details"] = details
    return {"error": error}


async def _reply(send: Send, status: int, code: str, message: str, rid: str) -> None:
    body = orjson.dumps(error_body(code, message, rid))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})
