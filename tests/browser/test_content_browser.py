"""Content under four eyes in a real browser: an editor's hotline change reaches no
caller until an approver, who sees old and new number, publishes it; a CSV with only
English keeps the other translations and shows the validator's verdict; alias YAML is
refused at import at once; the versions pages fit a 375 px phone."""

from __future__ import annotations

import asyncio
import base64
import re
import shutil
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, expect

from gateway.console import second_factor
from gateway.console.console_app import console_keys
from gateway.console.passwords import Passwords
from gateway.menu import engine
from gateway.menu.pages import Limit
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import PROJECT_ROOT, Secret, Settings
from tests.audit_support import AUDIT_KEY

CALLBACK_SECRET = "browser-content-callback-secret"
PASSWORD = "a long test password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


RECURSIVE_ALIAS = "tree: x\nscreens: &a\n  main: *a\n"
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "screens: {main: *i}\n"
)


def _walk(tree: Any, limit: Limit) -> str:
    shown = engine.start(tree, language="en", country="KE", limit=limit)
    step = engine.step(tree, shown.state, "1", limit)
    return step.display.text


async def test_a_hotline_change_waits_for_the_approver_who_sees_old_and_new(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    before = _walk(console.live.current, Limit(console.settings.screen_limit))
    assert "Kenya emergency: 999 or 112" in before
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/content/entries/hotlines/ke-999")
    await editor.fill("input[name=number]", "112")
    await editor.fill("textarea[name='text.en']", "Kenya emergency: 112")
    await editor.click("text=Save in the draft")
    await expect(editor.locator(".flash")).to_contain_text("saved in draft")
    await expect(editor.locator("text=Waiting for an approver")).to_be_visible()
    # Not on the phone yet.
    assert "Kenya emergency: 999 or 112" in _walk(
        console.live.current, Limit(console.settings.screen_limit)
    )

    approver = await sign_in_as(browser, console, "april")
    await approver.set_viewport_size({"width": 375, "height": 740})
    await approver.goto(f"{console.url}/content/versions")
    number = approver.locator("details[data-subject='hotlines ke-999'] tr", has_text="number")
    await expect(number.locator("td.old")).to_have_text("999")
    await expect(number.locator("td.new")).to_have_text("112")
    await expect(approver.locator(".verdict.ok")).to_contain_text("The validator accepts it")
    # The sample entries say no operator verified them: the approver is told, per entry.
    await expect(approver.locator("#freshness-warning")).to_contain_text(
        re.compile(r"hotlines ke-116: never verified by an operator, dated \d+ day")
    )
    publish = approver.locator("button:has-text('Publish')")
    await expect(publish).to_be_visible()
    assert await approver.evaluate("document.documentElement.scrollWidth") <= 375
    await shoot(approver, "content-review-375")
    await publish.click()
    await expect(approver.locator(".flash")).to_contain_text("is live")
    await expect(approver.locator(".flash")).to_contain_text("never verified by an operator")
    after = _walk(console.live.current, Limit(console.settings.screen_limit))
    assert "Kenya emergency: 112" in after and "999 or 112" not in after
    await expect(approver.locator("button:has-text('Roll back to this')").first).to_be_visible()
    # The other pages an approver or editor opens on a phone fit its width as well.
    for path in ("/content", "/menus/safe-journey/versions"):
        await approver.goto(f"{console.url}{path}")
        width = await approver.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await shoot(approver, "menu-versions-375")


async def test_a_csv_with_only_english_keeps_the_translations(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any, tmp_path: Any
) -> None:
    csv = tmp_path / "ke-116.csv"
    csv.write_text('id,text_en\nke-116,"Kenya child helpline: 116, free of charge"\n')
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/content")
    await editor.set_input_files("#import input[type=file]", str(csv))
    await editor.click("#import button:has-text('Preview')")
    await expect(editor.locator("#preview .verdict")).to_contain_text(
        "The validator accepts the result"
    )
    changed = editor.locator("details[data-subject='hotlines ke-116'] tr.changed")
    await expect(changed).to_have_count(1)
    await expect(changed.locator("td.new")).to_have_text(
        "Kenya child helpline: 116, free of charge"
    )
    await shoot(editor, "content-csv-preview")
    await editor.click("text=Save as a draft for review")
    await expect(editor.locator(".flash")).to_contain_text("as draft")
    await expect(editor.locator("details[data-subject='hotlines ke-116'] td.old")).to_have_count(
        1
    )  # one field changes; fr, ar, so are kept


async def test_alias_yaml_is_refused_at_import_at_once(
    browser: Browser, console: Any, sign_in_as: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    cookies = await editor.context.cookies()
    jar = {c["name"]: c["value"] for c in cookies}
    await editor.goto(f"{console.url}/menus/safe-journey/versions")
    token = await editor.locator("input[name=csrf_token]").first.get_attribute("value")
    async with aiohttp.ClientSession(cookies=jar) as http:
        for text in (RECURSIVE_ALIAS, ALIAS_BOMB):
            started = time.perf_counter()
            response = await http.post(
                f"{console.url}/menus/safe-journey/import",
                data={"csrf_token": token or "", "yaml": text},
            )
            page = await response.text()
            elapsed = time.perf_counter() - started
            assert response.status == 200
            assert "Not imported" in page and "are not allowed" in page
            assert elapsed < 2.0, elapsed  # refused as read, never expanded
    assert await console.store.list_menu_versions("safe-journey") == []
    await editor.goto(f"{console.url}/menus/safe-journey/versions")
    await expect(editor.locator("h1")).to_contain_text("Versions")


class Gateway:
    """The whole gateway (``create_app``: USSD callbacks, console, store) on a free port;
    stopped and started again on the same data directory, as a restart would."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.runner: web.AppRunner | None = None
        self.store: Any = None
        self.url = ""

    async def start(self) -> web.Application:
        app = await create_app(self.settings, broadcast_worker=False)
        self.store = app[RUNTIME].store
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        port = free_port()
        await web.TCPSite(self.runner, "127.0.0.1", port).start()
        self.url = f"http://127.0.0.1:{port}"
        return app

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
            self.runner = None

    async def dial(self, session: str, text: str, caller: int = 1) -> str:
        async with aiohttp.ClientSession() as http:
            response = await http.post(
                f"{self.url}/africastalking/ussd",
                data={
                    "sessionId": session,
                    "serviceCode": "*384#",
                    "phoneNumber": f"+2547000000{caller:02d}",
                    "networkCode": "63902",  # Kenya
                    "text": text,
                },
                headers={"X-Callback-Key": CALLBACK_SECRET},
            )
            assert response.status == 200
            return await response.text()


@pytest.fixture
async def gateway(tmp_path: Path) -> AsyncIterator[Gateway]:
    menus, content = tmp_path / "menus", tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "menus", menus)
    shutil.copytree(PROJECT_ROOT / "content", content)
    settings = Settings(
        data_dir=tmp_path,
        menus=menus,
        content=content,
        sms_channel="none",
        callback_secret=Secret(CALLBACK_SECRET),
        hash_key=Secret("browser test hash key, thirty-two chars"),
        audit_key=Secret(AUDIT_KEY.decode()),
        encryption_key=Secret(Fernet.generate_key().decode()),
        console_key=Secret("browser content console key, thirty-two chars"),
    )
    running = Gateway(settings)
    app = await running.start()
    store = app[RUNTIME].store
    for username, role in (("eddie", "editor"), ("april", "approver")):
        await store.create_operator(username, Passwords().hash(PASSWORD), role, 0.0)
    # Approvers sign in with a second factor: april set hers up already.
    seal_key = base64.urlsafe_b64encode(console_keys(settings)["seal"]).decode()
    TOTP["april"] = second_factor.new_secret()
    await store.save_second_factor("april", second_factor.seal(seal_key, TOTP["april"]), [], 0.0)
    running.store = store
    try:
        yield running
    finally:
        await running.stop()


async def sign_in_at(browser: Browser, url: str, username: str, store: Any = None) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    # A save or publish validates the whole tree (every page, language and country).
    context.set_default_timeout(120_000)
    page = await context.new_page()
    await page.goto(f"{url}/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    if username in TOTP:
        await page.wait_for_selector("input[name=code]")
        await page.fill("input[name=code]", await code_for(store, username))
        await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    return page


TOTP: dict[str, str] = {}


async def code_for(store: Any, username: str) -> str:
    """The authenticator's code now (a code works once: else the next step's)."""
    factor = await store.get_second_factor(username)
    used = factor.last_step if factor else 0
    while True:
        step = second_factor.step_at(time.time())
        if used < step + second_factor.DRIFT_STEPS:
            return second_factor.code_at(TOTP[username], max(step, used + 1))
        await asyncio.sleep(1)


CALLERS = iter(range(1, 100))


async def hotlines_screen(gateway: Gateway, session: str) -> str:
    """A new caller (a new number each time: nothing remembered) dials from Kenya."""
    caller = next(CALLERS)
    await gateway.dial(session, "", caller)  # language choice
    await gateway.dial(session, "1", caller)  # English
    return await gateway.dial(session, "1*1", caller)  # Hotlines


async def test_on_the_phone_only_after_an_approver_publishes_and_after_a_broken_restart(
    browser: Browser, gateway: Gateway, shoot: Any
) -> None:
    assert "Kenya emergency: 999 or 112" in await hotlines_screen(gateway, "before")
    editor = await sign_in_at(browser, gateway.url, "eddie")
    await editor.goto(f"{gateway.url}/console/content/entries/hotlines/ke-999")
    await editor.fill("input[name=number]", "112")
    await editor.fill("textarea[name='text.en']", "Kenya emergency: 112")
    await editor.click("text=Save in the draft")
    await expect(editor.locator(".flash")).to_contain_text("saved in draft")
    phone = await hotlines_screen(gateway, "draft")
    assert "Kenya emergency: 999 or 112" in phone and "Kenya emergency: 112\n" not in phone

    approver = await sign_in_at(browser, gateway.url, "april", gateway.store)
    await approver.goto(f"{gateway.url}/console/content/versions")
    number = approver.locator("details[data-subject='hotlines ke-999'] tr", has_text="number")
    await expect(number.locator("td.old")).to_have_text("999")
    await expect(number.locator("td.new")).to_have_text("112")
    await approver.click("button:has-text('Publish')")
    await expect(approver.locator(".flash")).to_contain_text("is live")
    assert "Kenya emergency: 112" in await hotlines_screen(gateway, "published")

    # Restart with broken files on disk: the last published version is served, loudly.
    await gateway.stop()
    hotlines = gateway.settings.content / "hotlines.yaml"
    hotlines.write_text(hotlines.read_text().replace("    number:", "    numbr:", 1))
    await gateway.start()
    assert "Kenya emergency: 112" in await hotlines_screen(gateway, "restarted")
    approver = await sign_in_at(browser, gateway.url, "april", gateway.store)
    banner = approver.locator("p.banner")
    await expect(banner).to_contain_text("do not validate")
    await expect(banner).to_contain_text("hotlines.yaml")
    await shoot(approver, "dashboard-serving-published")
