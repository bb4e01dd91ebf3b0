"""Logging: structlog, JSON when not on a terminal, and no phone number ever.

One canonical line per request is the services' job; this module sets up the
pipeline. :func:`redact_numbers` is a last line of defence: any run of 8 or more
digits (optionally behind ``+``) in a log value is masked, so a number that slips
into an event by mistake still never reaches the log.

JSON lines are written by :class:`TurnBufferedWriter`: inside an event loop, the
lines of one loop turn leave in one write at the end of that turn (a busy server
writes a line per request, and a write per line cost more than the line itself);
outside a loop, each line is written at once.

:func:`info_line` writes the canonical line of a request: the same bytes as
``logger.info(...)`` through the chain :func:`configure` set up for JSON, without
structlog's per-call machinery (which cost more than the rest of the line); any
other set-up (the console format, a test's capture, bound context variables, a
level above info) takes structlog's ordinary path.
"""

from __future__ import annotations

import asyncio
import atexit
import contextvars
import datetime as dt
import logging
import re
import sys
import threading
import time
from collections.abc import MutableMapping
from typing import IO, Any

import orjson
import structlog
from structlog.contextvars import STRUCTLOG_KEY_PREFIX

# A hex literal (``0x00000004``: an SMPP command id or status) is kept whole; any other
# run of 8+ digits may be a phone number.
_NUMBER = re.compile(r"(0x[0-9a-fA-F]+)|\+?\d[\d ]{6,}\d")
# Values under these keys are ids we mint, protocol fields or counts, never numbers
# from a person. (``session`` is a keyed-hash prefix: hex that may hold decimal runs.)
_SAFE_KEYS = frozenset(
    {
        "latency_ms",
        "timestamp",
        "count",
        "port",
        "pid",
        "session",
        "event",
        "level",
        "screen",
        "command_id",
        "command_status",
        "command_length",
        "status",
        "sequence",
        # The audit checkpoint (gateway.store.audit_anchor): hashes and counts we mint,
        # kept whole so the line can stand in for the anchor file.
        "rows",
        "last_id",
        "head",
        "mac",
    }
)


def _keep_hex(match: re.Match[str]) -> str:
    return match.group(1) or "[redacted]"


def _mask(value: str) -> str:
    return _NUMBER.sub(_keep_hex, value)


def redact_numbers(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key, value in event_dict.items():
        if key in _SAFE_KEYS:
            continue
        if isinstance(value, str):
            # A plain string of fewer than 8 characters, or of letters only, holds no
            # run of 8 digits: masking would give it back unchanged.
            if type(value) is not str or (len(value) >= 8 and not value.isalpha()):
                event_dict[key] = _mask(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            event_dict[key] = "[redacted]"
    return event_dict


def _orjson_bytes(event: Any, **_: Any) -> bytes:
    # orjson: the canonical line is written on every request, so its cost counts.
    return orjson.dumps(event, default=str)


class _UTCStamper:
    """``timestamp``: ISO 8601 UTC to the millisecond; the part up to the second is
    formatted once a second, not once a line."""

    def __init__(self, clock: Any = time.time) -> None:
        self._clock = clock
        self._second = -1
        self._prefix = ""

    def __call__(
        self, _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        event_dict["timestamp"] = self.stamp()
        return event_dict

    def stamp(self) -> str:
        now = self._clock()
        second = int(now)
        if second != self._second:
            moment = dt.datetime.fromtimestamp(second, dt.UTC)
            self._prefix, self._second = moment.strftime("%Y-%m-%dT%H:%M:%S"), second
        # The milliseconds' text looked up, not formatted (":03d" costs a line more).
        return self._prefix + _MILLISECONDS[int((now - second) * 1000)]


# ".000Z" to ".999Z" (and ".1000Z", as f"{1000:03d}" would write a rounding to it).
_MILLISECONDS = tuple(f".{milliseconds:03d}Z" for milliseconds in range(1001))


class TurnBufferedWriter:
    """A structlog logger for rendered lines (bytes): see the module docstring.

    A line waits at most until the end of the loop turn that logged it; what is still
    waiting when the process exits normally is written by an ``atexit`` hook.
    """

    def __init__(self, stream: IO[Any]) -> None:
        self._binary = getattr(stream, "buffer", None)
        self._stream = stream
        self._lines: list[bytes] = []
        self._lock = threading.Lock()
        self._flush_scheduled = False

    def msg(self, line: bytes) -> None:
        with self._lock:
            self._lines.append(line)
            if self._flush_scheduled:
                return
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                loop = None
            else:
                self._flush_scheduled = True
        if loop is None:
            self.flush()
        else:
            loop.call_soon(self.flush)

    info = debug = warning = error = critical = exception = log = msg

    def flush(self) -> None:
        with self._lock:
            self._flush_scheduled = False
            lines, self._lines = self._lines, []
        if not lines:
            return
        data = b"\n".join(lines) + b"\n"
        try:
            if self._binary is not None:
                self._binary.write(data)
                self._binary.flush()
            else:
                self._stream.write(data.decode())
                self._stream.flush()
        except (OSError, ValueError):  # a closed or broken stream loses lines, not the process
            pass


_current_writer: list[TurnBufferedWriter | None] = [None]


class _JSONChain:
    """The JSON set-up :func:`configure` installed: its processors, wrapper and logger
    factory (to tell that they are still structlog's), its stamper and its writer."""

    def __init__(
        self,
        processors: list[Any],
        wrapper: Any,
        factory: Any,
        stamper: _UTCStamper,
        writer: TurnBufferedWriter,
    ) -> None:
        self.processors = list(processors)
        self.wrapper = wrapper
        self.factory = factory
        self.stamper = stamper
        self.writer = writer

    def is_current(self) -> bool:
        # By value: structlog.testing.capture_logs changes the processor list in place.
        config = structlog.get_config()
        return (
            config["logger_factory"] is self.factory
            and config["wrapper_class"] is self.wrapper
            and config["processors"] == self.processors
        )


_json_chain: list[_JSONChain | None] = [None]


def _no_bound_context() -> bool:
    for var in contextvars.copy_context():  # noqa: SIM110  (no generator on every line)
        if var.name.startswith(STRUCTLOG_KEY_PREFIX):
            return False
    return True


def info_line(logger: Any, event: str, **fields: Any) -> None:
    """``logger.info(event, **fields)``, byte for byte; see the module docstring."""
    chain = _json_chain[0]
    if chain is None or not chain.is_current() or not _no_bound_context():
        logger.info(event, **fields)
        return
    # What the chain does to an info event with no bound context: the event, the
    # level, the stamp, the redaction, orjson (as _orjson_bytes calls it).
    fields["event"] = event
    fields["level"] = "info"
    fields["timestamp"] = chain.stamper.stamp()
    chain.writer.msg(orjson.dumps(redact_numbers(None, "info", fields), default=str))


@atexit.register
def _flush_at_exit() -> None:
    if _current_writer[0] is not None:
        _current_writer[0].flush()


def configure(
    log_format: str = "auto", level: str = "info", stream: Any = None, *, cache: bool = False
) -> None:
    """Set up structlog. ``cache`` binds loggers once (the server configures once, and
    saves the lookup on every request); tests reconfigure, so they leave it off."""
    stream = stream or sys.stderr
    as_json = log_format == "json" or (log_format == "auto" and not stream.isatty())
    renderer: Any
    factory: Any
    writer: TurnBufferedWriter | None = None
    if as_json:
        renderer = structlog.processors.JSONRenderer(serializer=_orjson_bytes)
        writer = _current_writer[0] = TurnBufferedWriter(stream)
        factory = lambda *_: writer  # noqa: E731  (one writer for every logger)
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
        factory = structlog.PrintLoggerFactory(file=stream)
    stamper = _UTCStamper()
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        stamper,
        redact_numbers,
        renderer,
    ]
    min_level = logging.getLevelNamesMapping()[level.upper()]
    wrapper = structlog.make_filtering_bound_logger(min_level)
    _json_chain[0] = (
        _JSONChain(processors, wrapper, factory, stamper, writer)
        if writer is not None and min_level <= logging.INFO
        else None
    )
    structlog.configure(
        processors=processors,
        wrapper_class=wrapper,
        logger_factory=factory,
        cache_logger_on_first_use=cache,
    )
