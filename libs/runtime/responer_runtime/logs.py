"""Structured JSON logs with tenant, correlation and event ids taken from context variables."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from datetime import UTC, datetime

tenant_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("tenant_id", default="")
correlation_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("correlation_id", default="")
event_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("event_id", default="")

_RESERVED = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, var in (
            ("tenant_id", tenant_id_var),
            ("correlation_id", correlation_id_var),
            ("event_id", event_id_var),
        ):
            value = var.get()
            if value:
                entry[key] = value
        for key, value in record.__dict__.items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("nats", "uvicorn.access", "eventsourcing", "grpc", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
