"""Structured logging: every process writes JSON lines with `ts, role, id, host, event`.

Each process configures structlog once at start-up with its role and id; events go to a file
in the run directory (or stderr when there is none). `supersonic monitor` and `report` read
these lines, so an event is a stable name plus fields, never a sentence.
"""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Any, TextIO

import structlog

_stream: TextIO | None = None


def configure(
    role: str, ident: str, path: Path | None = None
) -> structlog.typing.FilteringBoundLogger:
    """Send this process's events to `path` (appending) or stderr; returns the bound logger."""
    global _stream
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        _stream = path.open("a", buffering=1, encoding="utf-8")
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(sort_keys=False),
        ],
        logger_factory=structlog.WriteLoggerFactory(file=_stream or sys.stderr),
        wrapper_class=structlog.make_filtering_bound_logger(20),
        cache_logger_on_first_use=False,
    )
    return get_logger().bind(role=role, id=ident, host=socket.gethostname())


def get_logger(**fields: Any) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger()
    return logger.bind(**fields) if fields else logger
