"""Logging: structlog, JSON when not on a terminal, and no phone number ever.

One canonical line per request is the services' job; this module sets up the
pipeline. :func:`redact_numbers` is a last line of defence: any run of 8 or more
digits (optionally behind ``+``) in a log value is masked, so a number that slips
into an event by mistake still never reaches the log.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

_NUMBER = re.compile(r"\+?\d[\d ]{6,}\d")
# Values under these keys are ids we mint or counts, never numbers from a person.
# (``session`` is a keyed-hash prefix: hex that may hold a run of decimal digits.)
_SAFE_KEYS = frozenset(
    {"latency_ms", "timestamp", "count", "port", "pid", "session", "event", "level", "screen"}
)


def _mask(value: str) -> str:
    return _NUMBER.sub("[redacted]", value)


def redact_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if key in _SAFE_KEYS:
            continue
        if isinstance(value, str):
            event_dict[key] = _mask(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            event_dict[key] = "[redacted]"
    return event_dict


def _orjson_text(event: Any, **_: Any) -> str:
    # orjson: the canonical line is written on every request, so its cost counts.
    return orjson.dumps(event, default=str).decode()


def configure(log_format: str = "auto", level: str = "info", stream: Any = None) -> None:
    stream = stream or sys.stderr
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_text)
        if as_json
        else structlog.dev.ConsoleRenderer(colors=stream.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_numbers,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=False,
    )
