"""Voice recordings in a real browser, on the whole gateway: an editor uploads the Arabic
home screen in Chromium; a caller on the AT Voice double still hears AT's voice (the
upload is a draft) until an approver publishes it; then AT is told to ``Play`` the
gateway's own URL, which serves the audio."""

from __future__ import annotations

import asyncio
import base64
import shutil
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, expect

from gateway.console import second_factor
from gateway.console.console_app import console_keys
from gateway.console.passwords import Passwords
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import PROJECT_ROOT, Secret, Settings
from tests.at_voice_double import VoiceCallDouble
from tests.audit_support import AUDIT_KEY

SECRET = "browser-voice-callback-secret"
PASSWORD = "a long test password"
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 256


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Gateway:
    url: str
    client: TestClient[Any, Any]  # the same server, for the AT Voice double
    store: Any
    totp: str  # april's authenticator secret


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
        callback_secret=Secret(SECRET),
        hash_key=Secret("browser voice hash key, thirty-two chars"),
        audit_key=Secret(AUDIT_KEY.decode()),
        encryption_key=Secret(Fernet.generate_key().decode()),
        console_key=Secret("browser voice console key, thirty-two chars"),
        voice_recordings=tmp_path / "recordings",
    )
    app = await create_app(settings, broadcast_worker=False)
    store = app[RUNTIME].store
    for username, role in (("eddie", "editor"), ("april", "approver")):
        await store.create_operator(username, Passwords().hash(PASSWORD), role, 0.0)
    secret = second_factor.new_secret()
    seal_key = base64.urlsafe_b64encode(console_keys(settings)["seal"]).decode()
    await store.save_second_factor("april", second_factor.seal(seal_key, secret), [], 0.0)
    server = TestServer(app, host="127.0.0.1", port=free_port())
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        yield Gateway(str(server.make_url("")).rstrip("/"), client, store, secret)
    finally:
        await client.close()


async def sign_in(browser: Browser, gateway: Gateway, username: str) -> Page:
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(60_000)
    page = await context.new_page()
    await page.goto(f"{gateway.url}/console/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    if username == "april":
        await page.wait_for_selector("input[name=code]")
        await page.fill("input[name=code]", await _code(gateway))
        await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    return page


async def _code(gateway: Gateway) -> str:
    factor = await gateway.store.get_second_factor("april")
    used = factor.last_step if factor else 0
    while True:
        step = second_factor.step_at(time.time())
        if used < step + second_factor.DRIFT_STEPS:
            return second_factor.code_at(gateway.totp, max(step, used + 1))
        await asyncio.sleep(1)


CALLERS = iter(range(1, 100))


async def arabic_home(gateway: Gateway) -> Any:
    """A new caller (nothing remembered) dials the voice number and picks Arabic."""
    phone = VoiceCallDouble(
        gateway.client, f"/africastalking/voice?key={SECRET}", f"+2547007780{next(CALLERS):02d}"
    )
    await phone.dial()
    return await phone.press("3#")  # العربية: AT's Say has no Arabic voice (the default)


async def test_a_recording_is_played_only_once_an_approver_publishes_the_editors_upload(
    browser: Browser, gateway: Gateway, shoot: Any
) -> None:
    editor = await sign_in(browser, gateway, "eddie")
    await editor.click("nav >> text=Recordings")
    await expect(editor.locator("#missing-safe-journey")).to_contain_text(
        "66 of 66 screen recordings missing (fr, ar, so)"
    )
    await editor.select_option("select[name=slot]", "safe-journey/main/ar")
    # A picture named .mp3 is refused by its bytes, with a sentence.
    await editor.set_input_files(
        "input[name=file]",
        {"name": "home.mp3", "mimeType": "audio/mpeg", "buffer": b"\x89PNG\r\n\x1a\n" * 8},
    )
    await editor.click("button:has-text('Upload as draft')")
    await expect(editor.locator(".flash")).to_contain_text("not an MP3 or WAV file")
    await editor.select_option("select[name=slot]", "safe-journey/main/ar")
    await editor.set_input_files(
        "input[name=file]", {"name": "home-ar.mp3", "mimeType": "audio/mpeg", "buffer": MP3}
    )
    await editor.click("button:has-text('Upload as draft')")
    await expect(editor.locator(".flash")).to_contain_text("Uploaded as draft")
    row = editor.locator("tr[data-slot='main/ar']")
    await expect(row).to_contain_text("by eddie")
    await expect(row.locator("button:has-text('Publish')")).to_have_count(0)  # an editor
    await shoot(editor, "recordings-draft")

    before = await arabic_home(gateway)
    assert before.played == [] and before.said  # the draft is not heard: AT's voice reads

    approver = await sign_in(browser, gateway, "april")
    await approver.goto(f"{gateway.url}/console/recordings")
    await approver.locator("tr[data-slot='main/ar'] button:has-text('Publish')").click()
    await expect(approver.locator(".flash")).to_contain_text("is live: callers hear it")
    await expect(approver.locator("#missing-safe-journey")).to_contain_text("65 of 66")
    await expect(approver.locator("tr[data-slot='main/ar']")).to_contain_text("recording v")
    await shoot(approver, "recordings-published")

    after = await arabic_home(gateway)
    assert after.played == [f"{gateway.url}/voice/recordings/safe-journey/main/ar"]
    assert after.heard[0].content_type == "audio/mpeg" and after.said == ""
    audio = await gateway.client.get("/voice/recordings/safe-journey/main/ar")
    assert await audio.read() == MP3
    actions = [(e.actor, e.action) for e in await gateway.store.audit_entries()]
    assert ("eddie", "recording_upload") in actions and ("april", "recording_publish") in actions
