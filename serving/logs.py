"""The risk API's logs: one JSON object a line, from every worker, uvicorn's own lines included.

`churn serve` hands `log_config(level)` to uvicorn, which applies it in each worker process
(a worker is a fresh interpreter: logging set up in the parent would not reach it). A record's
`fields` (passed as `extra={"fields": {...}}`) become keys of its object, so the access log is
`{"time": ..., "level": "INFO", "logger": "churn.access", "message": "request", "request_id":
..., "status": 200, ...}` and a log shipper needs no parsing rules.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any


class JsonFormatter(logging.Formatter):
    """A record as one JSON object: time (UTC, ISO 8601), level, logger, message, fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record's JSON line (an exception's traceback under "exception")."""
        line: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "process": record.process,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            line |= fields
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def log_config(level: str = "info") -> dict[str, Any]:
    """A `logging.config.dictConfig` mapping: every logger, JSON lines on stderr."""
    handler = {"class": "logging.StreamHandler", "formatter": "json", "stream": "ext://sys.stderr"}
    named = {"level": level.upper(), "handlers": ["stderr"], "propagate": False}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "serving.logs.JsonFormatter"}},
        "handlers": {"stderr": handler},
        "loggers": {name: named for name in ("uvicorn", "uvicorn.error", "churn")}
        | {"uvicorn.access": {"level": "WARNING", "handlers": [], "propagate": False}},
        "root": {"level": level.upper(), "handlers": ["stderr"]},
    }
