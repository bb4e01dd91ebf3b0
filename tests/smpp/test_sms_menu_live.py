"""The menu by SMS over SMPP: mobile-originated SMS from the node-smpp simulator, replies
submitted back to it, through the whole gateway (``create_app``), in English and Arabic."""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms import encoding
from gateway.sms.menu_dialect import parts_needed
from tests.conftest import settings_with
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind

SHORT_CODE = "384"
ENGLISH = "254711000091"
ARABIC = "254711000092"


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, smsc: Simulator) -> TestClient[Any, Any]:
    binds = [smsc_bind(smsc.port, source_addr=SHORT_CODE, tps=500)]
    live = settings_with(settings, SMSC=json.dumps(binds), SMS_MENU_PER_MINUTE="30")
    app = await create_app(live, broadcast_worker=False)
    runtime = app[RUNTIME]
    await eventually(lambda: all(s["state"].startswith("bound") for s in runtime.link_status()))
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    return test_client


async def texted(smsc: Simulator, client: TestClient[Any, Any], sender: str, body: str) -> str:
    """Send ``body`` as an MO SMS from ``sender``; the reply the gateway submits."""
    before = len([m for m in await smsc.messages() if m["dest"] == sender])
    alphabet = encoding.alphabet_for(body)
    result = await smsc.command(
        "mo",
        pdus=[
            {
                "source": sender,
                "dest": SHORT_CODE,
                "dc": alphabet.data_coding,
                "hex": encoding.encode(body, alphabet).hex(),
            }
        ],
    )
    assert result["results"][0]["status"] == 0
    await client.app[RUNTIME].messaging.inbox.drain()
    replies: list[dict[str, Any]] = []

    async def answered() -> bool:
        replies[:] = [m for m in await smsc.messages() if m["dest"] == sender]
        return len(replies) > before

    await eventually(answered)
    last = replies[-1]
    return encoding.decode(bytes.fromhex(last["hex"]), int(last["dc"]))


async def test_an_english_walk_over_smpp_mo(client: TestClient[Any, Any], smsc: Simulator) -> None:
    walk = [
        ("menu", "Language\n1 English"),
        ("1", "Safe journey info"),
        ("2", "Route alerts"),
        ("0", "Safe journey info"),
        ("99", "Thank you. Goodbye."),
    ]
    for sent, expected in walk:
        reply = await texted(smsc, client, ENGLISH, sent)
        assert reply.startswith(expected), (sent, reply)
        assert parts_needed(reply) == 1


async def test_an_arabic_walk_over_smpp_mo(client: TestClient[Any, Any], smsc: Simulator) -> None:
    home = await texted(smsc, client, ARABIC, "القائمة")
    assert any("\u0600" <= char <= "\u06ff" for char in home) and len(home) <= 70
    hotlines = await texted(smsc, client, ARABIC, "١")
    assert hotlines != home and parts_needed(hotlines) == 1
    back = await texted(smsc, client, ARABIC, "٠")
    assert back == home
    bye = await texted(smsc, client, ARABIC, "٩٩")
    assert bye == "شكرا. مع السلامة."
