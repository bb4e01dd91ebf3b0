"""The menu by voice, through the whole gateway, driven by the AT Voice double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from tests.at_voice_double import VoiceCallDouble

SECRET = "test-callback-secret-0123456789"
CALLER = "+254700777001"
# A few bytes are enough: the double checks the type AT would play, not the sound.
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> TestClient[Any, Any]:
    recordings = tmp_path / "recordings"
    (recordings / "safe-journey").mkdir(parents=True)
    (recordings / "safe-journey" / "main.ar.mp3").write_bytes(MP3)
    env = {
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_MENUS": str(settings.menus),
        "GATEWAY_CONTENT": str(settings.content),
        "GATEWAY_CALLBACK_SECRET": SECRET,
        "GATEWAY_HASH_KEY": settings.hash_key.reveal(),
        "GATEWAY_VOICE_RECORDINGS": str(recordings),
    }
    app = await create_app(Settings.from_env(env), broadcast_worker=False)
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    return test_client


def call(client: TestClient[Any, Any], caller: str = CALLER) -> VoiceCallDouble:
    return VoiceCallDouble(client, f"/africastalking/voice?key={SECRET}", caller)


async def test_a_voice_walk_language_hotline_digit_by_digit_back_and_quick_exit(
    client: TestClient[Any, Any],
) -> None:
    phone = call(client)
    first = await phone.dial()
    assert first.waits_for_digits and first.num_digits == 1
    assert first.said.startswith("Language. 1 English. 2 Français.")
    home = await phone.press("1")
    assert home.said.startswith("Safe journey info. 1 Hotlines.")
    assert home.said.endswith("Press star to hear this again, 0 to go back, hash to end the call.")
    hotlines = await phone.press("1")
    # 112 is read digit by digit, so it can be dialled from what was heard.
    assert "try 1 1 2 from a mobile phone" in hotlines.said and "112" not in hotlines.said
    assert "00 Home" not in hotlines.said  # the USSD footer is not read out
    again = await phone.press("*")
    assert again.said == hotlines.said
    back = await phone.press("0")
    assert back.said == home.said
    bye = await phone.press("#")
    assert bye.said == "Thank you. Goodbye." and not bye.waits_for_digits
    assert phone.ended and phone.final_status == 200
    runtime = client.app[RUNTIME]
    ends = await runtime.dropoff.ends(__import__("datetime").date.today())
    assert any(status == "voice_ended" for _, _, status, _ in ends)


async def test_a_language_without_a_voice_is_played_from_the_operators_recording(
    client: TestClient[Any, Any],
) -> None:
    phone = call(client, "+254700777002")
    await phone.dial()
    home = await phone.press("3")  # العربية: AT's Say has no Arabic voice (a setting)
    assert home.played == [
        phone.client.make_url("/voice/recordings/safe-journey/main/ar").human_repr()
    ]
    assert home.heard[0].content_type == "audio/mpeg"
    # A screen nobody recorded yet is still answered (its text is said), never silence.
    hotlines = await phone.press("1")
    assert hotlines.played == [] and hotlines.said


async def test_voice_callbacks_need_the_secret_and_survive_garbage(
    client: TestClient[Any, Any],
) -> None:
    response = await client.post("/africastalking/voice", data={"sessionId": "x", "isActive": "1"})
    assert response.status == 403
    response = await client.post(f"/africastalking/voice?key={SECRET}", data={"foo": "<&>"})
    assert response.status == 200
    assert (await response.text()).startswith("<Response><Say")
    missing = await client.get("/voice/recordings/safe-journey/main/../../etc")
    assert missing.status == 404
