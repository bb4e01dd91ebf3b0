"""One person, one identity, whatever the channel and however the number is written.

The whole gateway against the node-smpp SMSC simulator: a person joins by SMS over
Africa's Talking as ``+254711000111``, and each STOP ends that same subscription,
sent over SMPP as ``0711000111`` (national, the SMSC's default country), as
``254711000111`` (international, no plus) and, over AT, in Arabic-Indic digits.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms import encoding
from tests.conftest import settings_with
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind
from tests.test_end_to_end import SHORT_CODE
from tests.ussd.test_at_endpoint import SECRET, form, post

PERSON = "+254711000111"
ARABIC_INDIC = "+٢٥٤٧١١٠٠٠١١١"  # the same number, as an Arabic handset writes it


@pytest.fixture
def kenyan_smsc(settings: Settings, smsc: Simulator) -> Settings:
    bind = smsc_bind(smsc.port, source_addr=SHORT_CODE, tps=500, default_country="KE")
    return settings_with(settings, SMSC=json.dumps([bind]))


async def at_sms(client: TestClient[Any, Any], sender: str, text: str, message_id: str) -> None:
    response = await client.post(
        "/africastalking/sms",
        data={"from": sender, "to": SHORT_CODE, "text": text, "id": message_id, "date": "x"},
        headers={"X-Callback-Key": SECRET},
    )
    assert response.status == 200


async def smpp_mo(smsc: Simulator, source: str, text: str, ton: int) -> None:
    sent = await smsc.command(
        "mo",
        pdus=[
            {
                "source": source,
                "ton": ton,
                "dest": SHORT_CODE,
                "dc": 0,
                "hex": encoding.encode_gsm7(text).hex(),
            }
        ],
    )
    assert sent["results"][0]["status"] == 0


async def test_a_stop_in_any_form_from_any_channel_ends_the_same_subscription(
    aiohttp_client: Any, kenyan_smsc: Settings, smsc: Simulator
) -> None:
    app = await create_app(kenyan_smsc)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    runtime = app[RUNTIME]
    store = runtime.store
    await eventually(lambda: all(s["state"].startswith("bound") for s in runtime.link_status()))

    async def subscribed() -> int:
        return (await store.topic_counts()).get("route-alerts", 0)

    # The SMPP side drops the very same text from the same person within its dedup
    # window (a re-delivery), so each STOP is written a little differently.
    stops = [
        ("smpp", "0711000111", 2, "STOP"),  # national form, TON national
        ("smpp", "254711000111", 1, "Stop"),  # international without the plus
        ("smpp", "0711000111", 0, "stop"),  # national form, TON unknown
        ("at", ARABIC_INDIC, 0, "STOP"),
    ]
    for index, (channel, written, ton, word) in enumerate(stops):
        await at_sms(client, PERSON, "JOIN route-alerts", f"join-{index}")
        await runtime.messaging.inbox.drain()
        assert await subscribed() == 1
        if channel == "smpp":
            await smpp_mo(smsc, written, word, ton)
        else:
            await at_sms(client, written, word, f"stop-{index}")

        async def stopped() -> bool:
            return await subscribed() == 0

        await eventually(stopped, within=10)
    # One person all along: one subscriber row, keyed by the E.164 hash.
    hasher = runtime.messaging.hasher
    person = await store.get_subscriber(hasher.hash(PERSON))
    assert person is not None and person.opted_out_at is not None
    # Every reply went to the number as E.164, never to the form it was written in.
    await runtime.messaging.inbox.drain()
    destinations = {m["dest"] for m in await smsc.messages()}
    assert destinations == {PERSON.lstrip("+")}


async def test_the_same_session_id_from_another_number_starts_a_fresh_session(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(await create_app(settings))
    await post(client, form("", session="shared", phone="+254711000001"))
    deep = await post(client, form("1", session="shared", phone="+254711000001"))
    assert deep[1].startswith("CON Safe journey info")
    # Caller B sends A's session id: B starts a session of their own, on the first
    # screen (in A's session, the same request would re-show A's home with a hint).
    other = await post(client, form("", session="shared", phone="+254711000002"))
    assert other[1].startswith("CON Language\n1 English")
    # A's session is untouched by it.
    mine = await post(client, form("1*1", session="shared", phone="+254711000001"))
    assert mine[1].startswith("CON Hotlines: Kenya")


async def test_an_unreadable_number_gets_a_polite_screen_and_a_counted_log_line(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(await create_app(settings))
    status, body = await post(client, form("", session="bad", phone="+12"))
    assert status == 200 and body.startswith("END ")
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_invalid_numbers_total{channel="africastalking"} 1.0' in metrics
