"""Voice recordings in a real browser, on the whole gateway: an editor uploads the Arabic
home screen in Chromium; a caller on the AT Voice double still hears AT's voice (the
upload is a draft) until an approver publishes it; then AT is told to ``Play`` the
gateway's own URL, which serves the audio."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from tests.at_voice_double import VoiceCallDouble

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 256


@pytest.fixture
async def gateway(make_gateway: Any, tmp_path: Path) -> Any:
    return await make_gateway(sms_channel="none", voice_recordings=tmp_path / "recordings")


CALLERS = iter(range(1, 100))


async def arabic_home(gateway: Any) -> Any:
    """A new caller (nothing remembered) dials the voice number and picks Arabic."""
    phone = VoiceCallDouble(
        gateway.client,
        f"/africastalking/voice?key={gateway.settings.callback_secret.reveal()}",
        f"+2547007780{next(CALLERS):02d}",
    )
    await phone.dial()
    return await phone.press("3#")  # العربية: AT's Say has no Arabic voice (the default)


async def test_a_recording_is_played_only_once_an_approver_publishes_the_editors_upload(
    browser: Browser, gateway: Any, sign_in_as: Any, shoot: Any
) -> None:
    editor = await sign_in_as(browser, gateway, "eddie")
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

    approver = await sign_in_as(browser, gateway, "april")
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
