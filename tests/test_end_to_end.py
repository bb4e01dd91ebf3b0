"""The whole gateway in one process against the node-smpp SMSC simulator.

A caller walks the sample tree over USSD-over-SMPP, another subscribes over the AT
USSD endpoint, a third joins by SMS keyword; two operators create and approve an
alert; the in-process broadcast worker sends it over SMPP and the receipts come back.
Then the SQLite file is searched for the callers' numbers in clear.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.broadcast.alert_service import AlertDraft
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms import encoding
from tests.conftest import settings_with
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind
from tests.ussd.test_at_endpoint import form, post

SMPP_CALLER = "+254711000001"
SMS_CALLER = "+254711000002"
AT_CALLER = "+254711000003"
SHORT_CODE = "384"


@pytest.fixture
async def smsc(smsc: Simulator) -> Simulator:
    """The simulator (tests/conftest.py), with receipts."""
    await smsc.configure(dlr=True, dlr_id_format="hex")  # ids differ in form: matched anyway
    return smsc


@pytest.fixture
def smpp_settings(settings: Settings, smsc: Simulator) -> Settings:
    bind = smsc_bind(smsc.port, source_addr=SHORT_CODE, tps=500, service_code="*384#")
    return settings_with(settings, SMSC=json.dumps([bind]))


async def ussd(smsc: Simulator, op: int, text: str, info: int) -> dict[str, Any]:
    reply = await smsc.command(
        "ussd",
        source=SMPP_CALLER.lstrip("+"),
        dest=SHORT_CODE,
        ussd_op=op,
        session_info=info,
        hex=encoding.encode_gsm7(text).hex(),
    )
    assert reply["resp"]["status"] == 0, reply
    return dict(reply["reply"])


def screen(reply: dict[str, Any]) -> str:
    return encoding.decode(bytes.fromhex(reply["hex"]), int(reply["dc"]))


async def test_ussd_over_smpp_keywords_and_an_approved_alert_end_to_end(
    aiohttp_client: Any, smpp_settings: Settings, smsc: Simulator
) -> None:
    app = await create_app(smpp_settings)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    runtime = app[RUNTIME]
    assert runtime.channel == "smpp" and runtime.smpp is not None
    await eventually(lambda: all(s["state"].startswith("bound") for s in runtime.link_status()))

    # 1. USSD over SMPP: language, home, alerts by SMS, subscribe to route alerts.
    first = await ussd(smsc, 1, "*384#", 0x0700)
    assert first["op"] == 2 and screen(first).startswith("Language\n1 English")
    home = await ussd(smsc, 18, "1", 0x0702)
    assert "1 Hotlines" in screen(home)
    alerts_menu = await ussd(smsc, 18, "4", 0x0704)
    assert screen(alerts_menu).startswith("Verified alerts by SMS")
    done = await ussd(smsc, 18, "1", 0x0706)
    assert done["op"] == 17 and screen(done).startswith("Subscribed to route alerts")

    # 2. An SMS keyword over SMPP, and a USSD subscription over Africa's Talking.
    join = await smsc.command(
        "mo",
        pdus=[
            {
                "source": SMS_CALLER.lstrip("+"),
                "dest": SHORT_CODE,
                "dc": 0,
                "hex": encoding.encode_gsm7("JOIN route-alerts").hex(),
            }
        ],
    )
    assert join["results"][0]["status"] == 0
    for text in ("", "1", "1*4", "1*4*1"):
        status, body = await post(client, form(text, session="at-1", phone=AT_CALLER))
        assert status == 200
    assert body.startswith("END Subscribed to route alerts")
    store = runtime.store
    await eventually(lambda: _audience(store), within=10)

    # 3. Two operators: one drafts, the other approves; then it is sent.
    alerts = runtime.messaging.alerts
    draft = AlertDraft(
        texts={"en": "Sea crossings this week: call 112 if in distress."},
        fallback_language="en",
        topics=("route-alerts",),
        source="Sample: coastguard bulletin (test)",
        author="alice",
        expires_at=time.time() + 3600,
    )
    alert_id = await alerts.create(draft, time.time())
    with pytest.raises(Exception, match=r"(?i)author|own|second"):
        await alerts.approve(alert_id, "alice", time.time())
    await alerts.approve(alert_id, "bob", time.time())
    await alerts.send(alert_id, "bob", time.time())

    async def delivered() -> bool:
        status = await alerts.status(alert_id)
        return status.counts.get("delivered", 0) == 3

    await eventually(delivered, within=30)
    received = [(m["dest"], screen(m)) for m in await smsc.messages()]
    alerts_sent = [(dest, text) for dest, text in received if "Sea crossings this week" in text]
    assert sorted(dest for dest, _ in alerts_sent) == sorted(
        n.lstrip("+") for n in (SMPP_CALLER, SMS_CALLER, AT_CALLER)
    )
    # A neutral opening, then the alert: a lock screen shows only the first words.
    assert all(text.startswith(smpp_settings.sms_prefix) for _, text in alerts_sent)
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_delivery_reports_total{channel="smpp",state="delivered"} 3.0' in metrics
    await client.close()

    # 4. No caller's number in clear anywhere in the SQLite file.
    files = sorted(Path(smpp_settings.data_dir).glob("gateway.db*"))  # noqa: ASYNC240
    raw = b"".join(path.read_bytes() for path in files)
    for number in (SMPP_CALLER, SMS_CALLER, AT_CALLER):
        assert number.lstrip("+").encode() not in raw
        assert number[4:].encode() not in raw


async def _audience(store: Any) -> bool:
    counts = await store.topic_counts()
    return counts.get("route-alerts", 0) == 3
