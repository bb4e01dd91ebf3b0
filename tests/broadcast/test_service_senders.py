"""Each service's SMS go out from its own number: broadcast alerts, JOIN/STOP/HELP
replies, menu screens by SMS and "send by SMS" copies, over Africa's Talking (the
request's ``from``) and over SMPP (the submit_sm's ``source_addr``, node-smpp
simulator); the default service keeps the configured sender."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.broadcast.alert_service import AlertDraft, AlertService
from gateway.menu.effect_port import Caller
from gateway.menu.effects import SMSCopyRequested
from gateway.menu.services import sms_sender
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.smpp.pool import _source
from tests.at_double import ATDouble, serving
from tests.menu.test_services_apart import (
    CALLER,
    WORK,
    Phone,
    gateway_with,
    send_mo,
    smpp_gateway,
)
from tests.smpp.smsc_driver import Simulator, eventually

DEFAULT_SENDER = "21212"  # GATEWAY_AT_SENDER_ID / the SMSC's source_addr
WORK_NUMBER = "21213"  # in WORK's service_codes


def test_a_services_sender_is_its_sms_number_else_its_first_number() -> None:
    assert sms_sender(["*384*2#", "21213", "+254711082001"]) == "21213"
    assert sms_sender(["*384*2#", "+254711082001"], "+254711082001") == "+254711082001"
    assert sms_sender(["*384*2#", "21213"], "+254711082001") == "+254711082001"
    assert sms_sender(["*384*2#"]) == ""  # USSD only: the configured sender
    # SMPP: an international number goes out as digits, TON 1 / NPI 1; none, as before.
    assert _source("+254711082001", "21212") == ("254711082001", 1, 1)
    assert _source("21213", "21212") == ("21213", 0, 0)
    assert _source("", "InfoLine") == ("InfoLine", 5, 0)


async def _alert(app: Any, service: str, topic: str) -> int:
    alerts = AlertService(app[RUNTIME].store)  # the topics are the service's own
    now = time.time()
    draft = AlertDraft(
        {"en": f"{service or 'default'}: the north road is closed."},
        "en",
        (topic,),
        "field team",
        "wen",
        now + 3600,
        service=service,
    )
    alert = await alerts.create(draft, now)
    await alerts.approve(alert, "bob", now)
    await alerts.send(alert, "bob", now)
    return alert


@pytest.fixture
async def double() -> AsyncIterator[tuple[ATDouble, str]]:
    at = ATDouble()
    async with serving(at) as url:
        yield at, url


async def test_over_africas_talking_each_service_sends_from_its_number(
    aiohttp_client: Any, tmp_path: Path, double: tuple[ATDouble, str]
) -> None:
    at, url = double
    settings = gateway_with(
        tmp_path,
        ("work.yaml", WORK),
        env={
            "GATEWAY_SMS_CHANNEL": "africastalking",
            "GATEWAY_AT_SMS_URL": url,
            "GATEWAY_AT_API_KEY": at.api_key,
            "GATEWAY_AT_SENDER_ID": DEFAULT_SENDER,
        },
    )
    app = await create_app(settings)
    phone = Phone(await aiohttp_client(app))
    runtime = app[RUNTIME]

    async def replies() -> list[tuple[str, str]]:
        await runtime.messaging.inbox.drain()
        return [(got.sender, got.text) for got in at.messages_to(CALLER)]

    await phone.text(WORK_NUMBER, "JOIN JOBS")
    await phone.text(DEFAULT_SENDER, "JOIN MED")
    await phone.text(WORK_NUMBER, "HELP")
    await phone.text(WORK_NUMBER, "MENU")  # the work-rights tree by SMS
    senders = [sender for sender, _ in await replies()]
    assert senders == [WORK_NUMBER, DEFAULT_SENDER, WORK_NUMBER, WORK_NUMBER]
    before = len(at.messages_to(CALLER))
    await _alert(app, "work-rights", "jobs")
    await _alert(app, "", "route-central-med")
    await eventually(lambda: len(at.messages_to(CALLER)) == before + 2, within=20)
    alerts = {got.text.split(":")[1].strip(): got.sender for got in at.messages_to(CALLER)[before:]}
    assert alerts == {"work-rights": WORK_NUMBER, "default": DEFAULT_SENDER}
    # "Send me this by SMS" in work-rights' menu comes from its number; the default's not.
    effects = runtime.messaging.effects
    for service in ("work-rights", ""):
        caller = Caller(CALLER, "caller-hash", "africastalking", service=service)
        await effects.handle(
            caller, [SMSCopyRequested(f"copy {service or 'default'}", "en", "info")]
        )
    await effects.drain()
    copies = {got.text: got.sender for got in at.messages_to(CALLER) if "copy" in got.text}
    assert copies == {"Info: copy work-rights": WORK_NUMBER, "Info: copy default": DEFAULT_SENDER}
    # STOP on the work number is answered from it, and ends work-rights only.
    await phone.text(WORK_NUMBER, "STOP")
    assert (await replies())[-1][0] == WORK_NUMBER
    assert await runtime.store.subscriber_counts() == {"": 1}


async def test_over_smpp_a_services_broadcast_and_replies_carry_its_source_addr(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    smsc = await Simulator.start()
    try:
        app = await smpp_gateway(aiohttp_client, tmp_path, smsc)

        async def mo(dest: str, text: str) -> None:
            await send_mo(smsc, dest, text)

        async def submitted() -> list[tuple[str, str]]:
            return [
                (record["source"], bytes.fromhex(record["hex"]).decode("latin-1"))
                for record in await smsc.messages()
                if record["dest"].lstrip("+") == CALLER.lstrip("+")
            ]

        async def count_is(wanted: int) -> bool:
            return len(await submitted()) == wanted

        await mo(WORK_NUMBER, "JOIN JOBS")
        await eventually(lambda: count_is(1), within=10)
        await mo(DEFAULT_SENDER, "JOIN MED")
        await eventually(lambda: count_is(2), within=10)
        await _alert(app, "work-rights", "jobs")
        await eventually(lambda: count_is(3), within=20)
        await _alert(app, "", "route-central-med")
        await eventually(lambda: count_is(4), within=20)
        sources = [source for source, _ in await submitted()]
        # JOIN reply on the work number, JOIN reply on the default's, then the alerts.
        assert sources == [WORK_NUMBER, DEFAULT_SENDER, WORK_NUMBER, DEFAULT_SENDER]
        texts = [text for _, text in await submitted()]
        assert "work-rights" in texts[2] and "default" in texts[3]
    finally:
        await smsc.stop()
