"""The JSON log pipeline: lines batched per loop turn, and the timestamp."""

from __future__ import annotations

import asyncio
import io
import json

import structlog

from gateway.observability.logs import _UTCStamper, configure


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
