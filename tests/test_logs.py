"""The JSON log pipeline: lines batched per loop turn, and the timestamp."""

from __future__ import annotations

import asyncio
import datetime as dt
import io
import json
from typing import Any

import structlog
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.observability import logs
from gateway.observability.logs import _UTCStamper, configure, info_line


class CountingStream(io.StringIO):
    def __init__(self) -> None:
        super().__init__()
        self.writes = 0

    def write(self, text: str) -> int:
        self.writes += 1
        return super().write(text)


async def test_the_lines_of_one_loop_turn_leave_in_one_write() -> None:
    stream = CountingStream()
    configure("json", "info", stream=stream)
    log = structlog.get_logger("t")
    log.info("first", n=1)
    log.info("second", n=2)
    assert stream.getvalue() == ""  # still this turn
    await asyncio.sleep(0)
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["first", "second"]
    assert stream.writes == 1


def test_outside_an_event_loop_each_line_is_written_at_once() -> None:
    stream = CountingStream()
    configure("json", "info", stream=stream)
    structlog.get_logger("t").warning("alone")
    assert json.loads(stream.getvalue())["level"] == "warning"
    assert stream.writes == 1


def test_the_timestamp_is_iso_utc_to_the_millisecond() -> None:
    now = [1_700_000_000.1234]
    stamp = _UTCStamper(clock=lambda: now[0])
    assert stamp(None, "info", {})["timestamp"] == "2023-11-14T22:13:20.123Z"
    now[0] = 1_700_000_061.9999
    assert stamp(None, "info", {})["timestamp"] == "2023-11-14T22:14:21.999Z"


@given(moment=st.floats(min_value=0, max_value=4.1e9))
def test_the_timestamp_is_the_moment_formatted(moment: float) -> None:
    second = int(moment)
    formatted = dt.datetime.fromtimestamp(second, dt.UTC).strftime("%Y-%m-%dT%H:%M:%S")
    expected = f"{formatted}.{int((moment - second) * 1000):03d}Z"
    assert _UTCStamper(clock=lambda: moment)(None, "info", {})["timestamp"] == expected


def test_numbers_are_masked_but_command_ids_lengths_and_reasons_stay() -> None:
    from gateway.observability.logs import redact_numbers

    event = redact_numbers(
        None,
        "warning",
        {
            "event": "smpp_stray_response",
            "error": "submit_sm_resp 0x80000004 answers no request; to +254712345678",
            "command_id": "0x80000004",
            "command_length": 123456789,
            "sequence": 2147483000,
            "reason": "command_length 99999999 outside 16..4096",
            "destination": "254712345678",
        },
    )
    assert event["error"] == "submit_sm_resp 0x80000004 answers no request; to [redacted]"
    assert event["command_id"] == "0x80000004"
    assert event["command_length"] == 123456789 and event["sequence"] == 2147483000
    assert event["destination"] == "[redacted]"
    assert "99999999" not in event["reason"]  # any other run of 8 digits may be a number


class BytesStream(io.BytesIO):
    """A stream with a ``buffer``, as a file opened for text has: lines go there."""

    @property
    def buffer(self) -> io.BytesIO:
        return self

    def isatty(self) -> bool:
        return False


_values = st.one_of(
    st.text(max_size=30),
    st.sampled_from(["+254712345678", "call 0712 345 678 now", "africastalking", "0x80000004"]),
    st.integers(min_value=-(10**9), max_value=10**9),
    st.booleans(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
)


@settings(max_examples=60, deadline=None)
@given(
    fields=st.dictionaries(
        st.sampled_from(
            ["channel", "session", "screen", "end", "effects", "latency_ms", "error", "to"]
        ),
        _values,
    ),
    moment=st.floats(min_value=1.6e9, max_value=2.0e9),
)
def test_the_canonical_line_is_the_bytes_structlog_writes(
    fields: dict[str, object], moment: float
) -> None:
    """``info_line`` skips structlog's machinery, not one byte of its output: the event,
    the level, the timestamp, the masking of numbers, the key order."""
    stream = BytesStream()
    configure("json", "info", stream=stream)
    chain = logs._json_chain[0]
    assert chain is not None
    chain.stamper._clock = lambda: moment
    log = structlog.get_logger("gateway.ussd")
    log.info("ussd.request", **fields)
    info_line(log, "ussd.request", **fields)
    ordinary, lean = stream.getvalue().splitlines()
    assert lean == ordinary
    unsafe = {k: v for k, v in json.loads(lean).items() if k not in logs._SAFE_KEYS}
    assert "254712345678" not in json.dumps(unsafe) and "0712 345 678" not in json.dumps(unsafe)


def test_the_canonical_line_of_a_request_is_pinned() -> None:
    stream = BytesStream()
    configure("json", "info", stream=stream)
    chain = logs._json_chain[0]
    assert chain is not None
    chain.stamper._clock = lambda: 1_700_000_000.1234
    info_line(
        structlog.get_logger("gateway.ussd"),
        "ussd.request",
        channel="africastalking",
        session="0123456789ab",
        screen="main",
        end=False,
        effects=0,
        latency_ms=1.23,
    )
    assert stream.getvalue() == (
        b'{"channel":"africastalking","session":"0123456789ab","screen":"main","end":false,'
        b'"effects":0,"latency_ms":1.23,"event":"ussd.request","level":"info",'
        b'"timestamp":"2023-11-14T22:13:20.123Z"}\n'
    )


def test_the_canonical_line_goes_through_structlog_when_it_is_set_up_otherwise() -> None:
    stream = BytesStream()
    configure("json", "info", stream=stream)
    log = structlog.get_logger("gateway.ussd")
    with structlog.testing.capture_logs() as captured:
        info_line(log, "ussd.request", screen="main")
    assert captured == [{"event": "ussd.request", "screen": "main", "log_level": "info"}]
    structlog.contextvars.bind_contextvars(request_id="r1")
    try:
        info_line(log, "ussd.request", screen="main")
    finally:
        structlog.contextvars.clear_contextvars()
    assert json.loads(stream.getvalue())["request_id"] == "r1"  # bound context is kept
    quiet = BytesStream()
    configure("json", "warning", stream=quiet)
    info_line(structlog.get_logger("gateway.ussd"), "ussd.request", screen="main")
    assert quiet.getvalue() == b""  # the level still filters
    text = io.StringIO()
    configure("console", "info", stream=text)
    info_line(structlog.get_logger("gateway.ussd"), "ussd.request", screen="main")
    assert "ussd.request" in text.getvalue() and "screen" in text.getvalue()


@given(value=st.text(max_size=20) | st.from_regex(r"\+?[0-9٠-٩ ]{6,12}x?", fullmatch=True))
def test_masking_skips_only_strings_that_cannot_hold_a_number(value: str) -> None:
    event = logs.redact_numbers(None, "info", {"to": value})
    assert event["to"] == logs._mask(value)


def masked_key_by_key(event: dict[str, Any]) -> dict[str, Any]:
    """The rule as first written: each key in turn, safe keys skipped."""
    out = dict(event)
    for key, value in event.items():
        if key in logs._SAFE_KEYS:
            continue
        if isinstance(value, str):
            out[key] = logs._mask(value)
        elif isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**7:
            out[key] = "[redacted]"
    return out


@settings(max_examples=200)
@given(
    event=st.dictionaries(
        st.sampled_from([*sorted(logs._SAFE_KEYS), "channel", "error", "to", "effects", "end"]),
        _values | st.integers() | st.sampled_from(["+254712345678", "12345678"]),
    )
)
def test_only_the_values_of_unsafe_keys_are_masked_and_the_order_stays(
    event: dict[str, Any],
) -> None:
    expected = masked_key_by_key(event)
    got = logs.redact_numbers(None, "info", dict(event))
    assert list(got.items()) == list(expected.items())
