"""Two services on two codes, in Chromium: the whole gateway (``create_app``) answers
USSD over Africa's Talking and SMS keywords on each service's code, and two operators,
each an editor on one service, see only their own service in the console."""

from __future__ import annotations

import re
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, expect

from gateway.console.passwords import Passwords
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import PROJECT_ROOT, Secret, Settings
from gateway.store.records import Audience, NewBroadcast
from tests.audit_support import AUDIT_KEY

PASSWORD = "a long test password"
SECRET = "browser-services-callback-secret"
WORK = """\
tree: work-rights
content: work-rights
service_codes: ["*384*2#", "21213"]
sample: true
languages: [en]
start: main
home: main
language_names: {en: English}
navigation:
  more: {en: "98 More"}
  back: {en: "0 Back"}
  home: {en: "00 Home"}
  invalid: {en: "Invalid choice."}
  exit: {en: "Bye."}
  resume: {en: "Continue?\\n1 Yes\\n2 No"}
  unavailable: {en: "Busy."}
  voice_keys: {en: "Press the number."}
screens:
  main:
    type: menu
    text: {en: "Work rights (sample)"}
    options:
      - {key: "1", goto: join, label: {en: "Job alerts"}}
  join:
    type: action
    action: subscribe
    topic: jobs
    end: true
    text: {en: "You will get job alerts."}
"""
WORK_TOPICS = """\
sample: true
topics:
  jobs:
    aliases: [JOBS]
    title: {en: Work rights, fr: Droits au travail, ar: حقوق العمل, so: Xuquuqda shaqada}
    info: {en: "Sample.", fr: "Exemple.", ar: "عينة.", so: "Tusaale."}
"""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class TwoServices:
    def __init__(self, url: str, store: Any, alerts: dict[str, int]) -> None:
        self.url, self.store, self.alerts = url, store, alerts

    async def post(self, path: str, data: dict[str, str]) -> str:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{self.url}{path}", data=data, headers={"X-Callback-Key": SECRET}
            )
            assert response.status == 200
            return await response.text()

    async def dial(self, code: str, session: str, text: str, caller: str) -> str:
        return await self.post(
            "/africastalking/ussd",
            {"sessionId": session, "serviceCode": code, "phoneNumber": caller,
             "networkCode": "63902", "text": text},
        )  # fmt: skip

    async def text(self, to: str, words: str, caller: str, message_id: str) -> None:
        await self.post(
            "/africastalking/sms",
            {"from": caller, "to": to, "text": words, "id": message_id, "date": "x"},
        )


@pytest.fixture
async def two_services(tmp_path: Path) -> AsyncIterator[TwoServices]:
    menus, content = tmp_path / "menus", tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "menus", menus)
    shutil.copytree(PROJECT_ROOT / "content", content)
    (menus / "work.yaml").write_text(WORK, encoding="utf-8")
    (content / "work-rights").mkdir()
    (content / "work-rights" / "topics.yaml").write_text(WORK_TOPICS, encoding="utf-8")
    settings = Settings(
        data_dir=tmp_path,
        menus=menus,
        content=content,
        sms_channel="none",
        callback_secret=Secret(SECRET),
        hash_key=Secret("browser services hash key, thirty-two chars"),
        audit_key=Secret(AUDIT_KEY.decode()),
        encryption_key=Secret(Fernet.generate_key().decode()),
        console_key=Secret("browser services console key, thirty-two chars"),
    )
    app = await create_app(settings, broadcast_worker=False)
    store = app[RUNTIME].store
    for username, service in (("sam", ""), ("wendy", "work-rights")):
        await store.create_operator(username, Passwords().hash(PASSWORD), "none", 0.0)
        await store.set_service_role(username, service, "editor")
    alerts = {}
    for name, key, topic in (("safe-journey", "", "route-central-med"),
                             ("work-rights", "work-rights", "jobs")):  # fmt: skip
        alerts[name] = await store.create_broadcast(
            NewBroadcast({"en": f"Sample {name} alert"}, "en", Audience((topic,), service=key),
                         "sample source", "someone", 4_000_000_000.0),
            0.0,
        )  # fmt: skip
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield TwoServices(f"http://127.0.0.1:{port}", store, alerts)
    finally:
        await runner.cleanup()


async def sign_in(browser: Browser, url: str, username: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    page = await context.new_page()
    await page.goto(f"{url}/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    return page


async def test_two_services_two_codes_two_operators(
    browser: Browser, two_services: TwoServices, shoot: Any
) -> None:
    gateway = two_services
    # USSD over AT: each code reaches its own tree; subscribing in work-rights' menu
    # makes a work-rights subscriber.
    assert (await gateway.dial("*384#", "d1", "", "+254700000101")).startswith("CON Language")
    work = await gateway.dial("*384*2#", "w1", "", "+254700000102")
    assert work.startswith("CON Work rights (sample)")
    assert "job alerts" in await gateway.dial("*384*2#", "w1", "1", "+254700000102")
    # SMS over AT: JOIN on each service's number joins that service's topic.
    await gateway.text("21213", "JOIN JOBS", "+254700000103", "m1")
    await gateway.text("21212", "JOIN MED", "+254700000104", "m2")
    assert await gateway.store.subscriber_counts() == {"": 1, "work-rights": 2}

    for username, own, other, own_topic, other_topic in (
        ("sam", "safe-journey", "work-rights", "route-central-med", "jobs"),
        ("wendy", "work-rights", "safe-journey", "jobs", "route-central-med"),
    ):
        page = await sign_in(browser, gateway.url, username)
        switch = page.locator("#service-switch option")
        assert await switch.all_inner_texts() == [
            own + (" (*384*2#, 21213)" if own == "work-rights" else "")
        ]
        dashboard = await page.content()
        assert own_topic in dashboard and other_topic not in dashboard
        await shoot(page, f"services-dashboard-{username}")
        await page.goto(f"{gateway.url}/console/alerts")
        await expect(page.locator(f"a[href$='/alerts/{gateway.alerts[own]}']")).to_have_count(1)
        await expect(page.locator(f"a[href$='/alerts/{gateway.alerts[other]}']")).to_have_count(0)
        refused = await page.goto(f"{gateway.url}/console/alerts/{gateway.alerts[other]}")
        assert refused is not None and refused.status == 403
        page_text = await page.content()
        assert re.search("another service", page_text)
        await page.context.close()
