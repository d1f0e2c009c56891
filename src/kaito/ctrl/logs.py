"""Structured JSON logs: one JSON object per line, with the controller and object key when known.

`configure_logging()` installs `JsonFormatter` on the root logger (idempotent). Context travels in the
standard `extra=` mechanism: code that logs about an object passes
`extra={"controller": "configmap-mirror", "key": "default/cm-1", "reconcile_id": "..."}` — or uses
`object_logger(logger, controller=..., key=...)`, a LoggerAdapter that adds them to every record.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import MutableMapping
from datetime import UTC, datetime
from typing import Any, TextIO

__all__ = ["configure_logging"]

CONTEXT_FIELDS = ("controller", "key", "namespace", "reconcile_id", "kind")  # not "name": LogRecord has one


class JsonFormatter(logging.Formatter):
    """Formats a record as JSON: ts, level, logger, msg, context fields, exception text."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for name in CONTEXT_FIELDS:
            value = record.__dict__.get(name)
            if value is not None:
                entry[name] = value
        if record.exc_info:
            entry["error"] = repr(record.exc_info[1])
            entry["stacktrace"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class ObjectLogger(logging.LoggerAdapter[logging.Logger]):
    """A logger that stamps every record with fixed context (controller, key, ...)."""

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, MutableMapping[str, Any]]:
        extra = dict(self.extra or {})
        extra.update(kwargs.get("extra") or {})
        kwargs["extra"] = extra
        return msg, kwargs


def object_logger(logger: logging.Logger, **context: Any) -> ObjectLogger:
    """`logger` with `context` (e.g. controller=..., key=...) added to every record."""
    return ObjectLogger(logger, context)


def configure_logging(level: int | str = logging.INFO, stream: TextIO | None = None) -> logging.Handler:
    """Send every log record to `stream` (stderr) as JSON lines; returns the installed handler."""
    root = logging.getLogger()
    for handler in root.handlers:
        if isinstance(handler.formatter, JsonFormatter):
            root.setLevel(level)
            return handler
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    root.addHandler(handler)
    root.setLevel(level)
    return handler
