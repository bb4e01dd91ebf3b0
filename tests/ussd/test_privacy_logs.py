"""Logs of USSD traffic hold no phone number and no callback secret."""

from __future__ import annotations

import io
import json
from typing import Any

from aiohttp.test_utils import TestServer

from gateway.observability.access_log import PathOnlyAccessLogger
from gateway.observability.logs import configure
from gateway.server.app import create_app
from gateway.settings import Settings
from tests.ussd.test_at_endpoint import PHONE, SECRET, form, post


async def test_logs_of_a_session_hold_no_number_and_no_secret(
    aiohttp_client: Any, settings: Settings
) -> None:
    stream = io.StringIO()
    configure("json", "debug", stream=stream)
    try:
        server = TestServer(await create_app(settings))  # the access log class `serve` uses
        await server.start_server(access_log_class=PathOnlyAccessLogger)
        client = await aiohttp_client(server)
        for text in ("", "1", "1*1", "1*1*2"):
            await post(client, form(text))
        response = await client.post(f"/africastalking/ussd?key={SECRET}&x=1", data={})
        assert response.status == 200
        await client.post("/africastalking/ussd?key=wrong", data=form(""))
    finally:
        configure("console", "info")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    requests = [line for line in lines if line["event"] == "ussd.request"]
    assert len(requests) >= 4 and all("latency_ms" in r and "screen" in r for r in requests)
    text = stream.getvalue()
    assert PHONE not in text and PHONE[1:] not in text and "700123456" not in text
    assert SECRET not in text
    assert any(line.get("status") == 403 for line in lines), text  # the refused call is logged


def test_the_redactor_masks_a_number_that_slips_into_an_event() -> None:
    stream = io.StringIO()
    configure("json", "info", stream=stream)
    try:
        import structlog

        structlog.get_logger("t").info("oops", detail=f"caller {PHONE} said hi", raw=254700123456)
    finally:
        configure("console", "info")
    line = json.loads(stream.getvalue())
    assert line["detail"] == "caller [redacted] said hi" and line["raw"] == "[redacted]"
