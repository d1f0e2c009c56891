"""JSON logs carry the controller and the object key."""

from __future__ import annotations

import io
import json
import logging

from kaito.ctrl.logs import JsonFormatter, configure_logging, object_logger


def test_records_are_json_with_context() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("test.ctrl.logs")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        log = object_logger(logger, controller="mirror", key="default/a")
        log.warning("reconciled %s", "a", extra={"reconcile_id": "r1"})
        try:
            raise ValueError("boom")
        except ValueError:
            logger.exception("failed", extra={"controller": "mirror"})
    finally:
        logger.removeHandler(handler)
    first, second = (json.loads(line) for line in stream.getvalue().splitlines())
    assert first["msg"] == "reconciled a" and first["level"] == "warning"
    assert first["logger"] == "test.ctrl.logs" and "name" not in first
    assert (first["controller"], first["key"], first["reconcile_id"]) == ("mirror", "default/a", "r1")
    assert second["error"] == "ValueError('boom')" and "Traceback" in second["stacktrace"]


def test_configure_logging_is_idempotent() -> None:
    root = logging.getLogger()
    before = list(root.handlers)
    level = root.level
    try:
        first = configure_logging(logging.DEBUG, io.StringIO())
        assert configure_logging(logging.INFO) is first
        assert sum(isinstance(h.formatter, JsonFormatter) for h in root.handlers) == 1
    finally:
        root.handlers[:] = before
        root.setLevel(level)
