"""Two services on one gateway keep their topics, subscribers, STOP, drop-off figures
and metrics apart; a broken service is down, loudly, and the others are served."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms import encoding
from tests.conftest import CONTENT
from tests.menu.test_services import menus_with
from tests.menu.test_validator import GOOD
from tests.smpp.smsc_driver import Simulator, eventually

SECRET = "test-callback-secret-0123456789"
WORK = GOOD.replace(
    "tree: tiny",
    "tree: work-rights\ncontent: work-rights\nservice_codes: ['*384*2#', '21213']",
)
# SAMPLE topics of the second service (its own content folder); keywords are shared.
WORK_TOPICS = """\
sample: true
topics:
  jobs:
    aliases: [JOBS]
    title: {en: Work rights, fr: Droits au travail, ar: حقوق العمل, so: Xuquuqda shaqada}
    info: {en: "Sample.", fr: "Exemple.", ar: "عينة.", so: "Tusaale."}
"""
BROKEN = GOOD.replace("tree: tiny", "tree: broken\nservice_codes: ['*384*3#']").replace(
    "goto: info", "goto: nowhere"
)
CALLER = "+254700888001"  # Kenyan mobile range, not a real subscriber's number


def gateway_with(
    tmp_path: Path, *extra: tuple[str, str], env: dict[str, str] | None = None
) -> Settings:
    """:func:`menus_with`, over a copy of the content with the work-rights folder."""
    content = tmp_path / "content"
    shutil.copytree(CONTENT, content)
    (content / "work-rights").mkdir()
    (content / "work-rights" / "topics.yaml").write_text(WORK_TOPICS, encoding="utf-8")
    return menus_with(tmp_path, *extra, content=content, env=env)


class Phone:
    def __init__(self, client: TestClient[Any, Any]) -> None:
        self.client = client
        self.sent = 0

    async def text(self, to: str, words: str) -> None:
        self.sent += 1
        response = await self.client.post(
            "/africastalking/sms",
            data={"from": CALLER, "to": to, "text": words, "id": f"m{self.sent}", "date": "x"},
            headers={"X-Callback-Key": SECRET},
        )
        assert response.status == 200

    async def dial(self, code: str, session: str, text: str = "") -> str:
        response = await self.client.post(
            f"/africastalking/ussd?key={SECRET}",
            data={
                "sessionId": session,
                "serviceCode": code,
                "phoneNumber": CALLER,
                "networkCode": "63902",
                "text": text,
            },
        )
        return await response.text()

    async def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        body = await (await self.client.get("/metrics")).text()
        return {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(body)
            for sample in family.samples
        }


async def test_join_and_stop_belong_to_the_number_texted(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    app = await create_app(gateway_with(tmp_path, ("work.yaml", WORK)), broadcast_worker=False)
    phone = Phone(await aiohttp_client(app))
    store = app[RUNTIME].store

    await phone.text("21213", "JOIN JOBS")  # the work-rights number: its own topic
    assert await store.subscriber_counts() == {"work-rights": 1}
    await phone.text("21212", "JOIN JOBS")  # the default's topics have no JOBS
    assert await store.subscriber_counts() == {"work-rights": 1}
    await phone.text("21212", "JOIN MED")
    assert await store.subscriber_counts() == {"": 1, "work-rights": 1}
    assert await store.topic_counts("work-rights") == {"jobs": 1}

    await phone.text("21213", "STOP")  # on work-rights' own number: work-rights only
    assert await store.subscriber_counts() == {"": 1}
    await phone.text("21213", "JOIN JOBS")
    await phone.text("21212", "STOP")  # a number no service claims: every service
    assert await store.subscriber_counts() == {}


async def test_metrics_and_drop_off_carry_the_service(aiohttp_client: Any, tmp_path: Path) -> None:
    app = await create_app(gateway_with(tmp_path, ("work.yaml", WORK)), broadcast_worker=False)
    phone = Phone(await aiohttp_client(app))
    await phone.text("21213", "JOIN JOBS")
    assert "Welcome" in await phone.dial("*384*2#", "w1")
    assert (await phone.dial("*384#", "d1")).startswith("CON Language")
    ended = await phone.client.post(
        f"/africastalking/ussd/end?key={SECRET}",
        data={"sessionId": "w1", "serviceCode": "*384*2#", "phoneNumber": CALLER,
              "networkCode": "63902", "status": "Incomplete"},
    )  # fmt: skip
    assert ended.status == 200

    found = await phone.metrics()
    requests = "gateway_ussd_requests_total"
    labels = (("channel", "africastalking"), ("outcome", "continue"))
    assert found[(requests, (*labels, ("service", "work-rights")))] == 1
    assert found[(requests, (*labels, ("service", "safe-journey")))] == 1
    assert {dict(key[1])["service"] for key in found if key[0] == requests} == {
        "safe-journey",
        "work-rights",
    }
    assert found[("gateway_subscribers", (("service", "work-rights"),))] == 1
    assert found[("gateway_subscribers", (("service", "safe-journey"),))] == 0
    dropped = (("channel", "africastalking"), ("reason", "incomplete"), ("service", "work-rights"))
    assert found[("gateway_ussd_sessions_dropped_total", dropped)] == 1
    store = app[RUNTIME].store
    assert [c.screen_id for c in await store.session_end_counts("2000-01-01", "work-rights")] == [
        "main"
    ]
    assert await store.session_end_counts("2000-01-01") == []


async def test_a_broken_service_is_down_loudly_and_the_others_are_served(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    settings = gateway_with(tmp_path, ("work.yaml", WORK), ("broken.yaml", BROKEN))
    app = await create_app(settings, broadcast_worker=False)
    phone = Phone(await aiohttp_client(app))

    assert "Welcome" in await phone.dial("*384*2#", "w1")  # the valid services answer
    assert (await phone.dial("*384#", "d1")).startswith("CON Language")
    down = await phone.dial("*384*3#", "b1")  # a polite end, never another menu
    assert down.startswith("END ") and "Language" not in down

    status = await (await phone.client.get("/status")).json()
    services = {service["id"]: service for service in status["services"]}
    assert services["safe-journey"]["up"] and services["work-rights"]["up"]
    assert not services["broken"]["up"]
    assert "broken.yaml:" in services["broken"]["down_reason"]
    assert "nowhere" in services["broken"]["down_reason"]

    found = await phone.metrics()
    assert found[("gateway_service_up", (("service", "broken"),))] == 0
    assert found[("gateway_service_up", (("service", "work-rights"),))] == 1
    error = (("channel", "africastalking"), ("outcome", "error"), ("service", "broken"))
    assert found[("gateway_ussd_requests_total", error)] == 1


async def test_join_and_stop_over_smpp_mo_belong_to_the_number_texted(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    smsc = await Simulator.start()
    try:
        app = await smpp_gateway(aiohttp_client, tmp_path, smsc, broadcast_worker=False)
        runtime = app[RUNTIME]

        async def mo(dest: str, text: str) -> None:
            await send_mo(smsc, dest, text)

        async def counts_are(wanted: dict[str, int]) -> bool:
            return await runtime.store.subscriber_counts() == wanted

        await mo("21213", "JOIN JOBS")
        await mo("21212", "JOIN MED")
        await eventually(lambda: counts_are({"": 1, "work-rights": 1}), within=10)
        await mo("21213", "STOP")  # work-rights' own number: work-rights only
        await eventually(lambda: counts_are({"": 1}), within=10)
    finally:
        await smsc.stop()


async def smpp_gateway(
    aiohttp_client: Any, tmp_path: Path, smsc: Simulator, **options: Any
) -> web.Application:
    """The two services' gateway on one bind to ``smsc`` (source_addr 21212), bound."""
    bind = {"name": "sim", "host": "127.0.0.1", "port": smsc.port, "system_id": "gateway",
            "password": "secret", "source_addr": "21212", "tps": 500,
            "default_country": "KE"}  # fmt: skip
    settings = gateway_with(tmp_path, ("work.yaml", WORK), env={"GATEWAY_SMSC": json.dumps([bind])})
    app = await create_app(settings, **options)
    await aiohttp_client(app)
    runtime = app[RUNTIME]
    await eventually(lambda: all(s["state"].startswith("bound") for s in runtime.link_status()))
    return app


async def send_mo(smsc: Simulator, dest: str, text: str) -> None:
    """CALLER texts ``text`` to ``dest`` (an SMPP MO through the simulator)."""
    sent = await smsc.command(
        "mo",
        pdus=[{"source": CALLER.lstrip("+"), "ton": 1, "dest": dest, "dc": 0,
               "hex": encoding.encode_gsm7(text).hex()}],
    )  # fmt: skip
    assert sent["results"][0]["status"] == 0
