"""The menu by voice, through the whole gateway, driven by the AT Voice double."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.content.recordings import RecordingLibrary
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from tests.at_voice_double import VoiceCallDouble
from tests.conftest import settings_with

SECRET = "test-callback-secret-0123456789"
CALLER = "+254700777001"
# A few bytes are enough: the double checks the type AT would play, not the sound.
MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64


@pytest.fixture
async def client(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> TestClient[Any, Any]:
    recordings = tmp_path / "recordings"
    live = settings_with(settings, VOICE_RECORDINGS=str(recordings))
    app = await create_app(live, broadcast_worker=False)
    # An editor uploads the Arabic home screen, an approver publishes it (the console's
    # path, tests/console/test_recordings.py); the Arabic hotlines are only a draft.
    shelf = RecordingLibrary(app[RUNTIME].store, recordings)
    draft = await shelf.upload("safe-journey", "main", "ar", MP3, "eddie", 1.0)
    assert (await shelf.publish(draft.id, "april", 2.0)).published
    await shelf.upload("safe-journey", "hotlines", "ar", MP3, "eddie", 3.0)
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    return test_client


def call(client: TestClient[Any, Any], caller: str = CALLER) -> VoiceCallDouble:
    return VoiceCallDouble(client, f"/africastalking/voice?key={SECRET}", caller)


async def test_a_voice_walk_language_hotline_digit_by_digit_back_and_quick_exit(
    client: TestClient[Any, Any],
) -> None:
    phone = call(client)
    first = await phone.dial()
    # One key then hash, or two keys (10 and above, 00, 99): AT collects either.
    assert first.waits_for_digits and first.num_digits == 2 and first.finish_on_key == "#"
    assert first.said.startswith("Language. 1 English. 2 Français.")
    home = await phone.press("1#")
    assert home.said.startswith("Safe journey info. 1 Hotlines.")
    assert home.said.endswith("Star hash repeats, 0 hash goes back, 9 9 ends the call.")
    hotlines = await phone.press("1#")
    # 112 is read digit by digit, so it can be dialled from what was heard.
    assert "try 1 1 2 from a mobile phone" in hotlines.said and "112" not in hotlines.said
    assert "00 Home" not in hotlines.said  # the USSD footer is not read out
    again = await phone.press("*#")
    assert again.said == hotlines.said
    quiet = await phone.press("#")  # hash alone (or a timeout): the screen again, no restart
    assert quiet.said == hotlines.said
    back = await phone.press("0#")
    assert back.said == home.said
    bye = await phone.press("99")  # the quick exit of USSD, two keys
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
    home = await phone.press("3#")  # العربية: AT's Say has no Arabic voice (a setting)
    assert home.played == [
        phone.client.make_url("/voice/recordings/safe-journey/main/ar").human_repr()
    ]
    assert home.heard[0].content_type == "audio/mpeg"
    # A screen whose recording waits for an approver is said, as one nobody recorded
    # (never silence); its draft cannot be fetched from the gateway either.
    hotlines = await phone.press("1#")
    assert hotlines.played == [] and hotlines.said
    draft = await phone.client.get("/voice/recordings/safe-journey/hotlines/ar")
    assert draft.status == 404


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


# A service with twelve choices on one screen (a sample tree for this test only).
TWELVE = (
    """\
tree: twelve
sample: true
languages: [en]
fallback_language: en
start: main
home: main
language_names: {en: English}
navigation:
  more: {en: "98 More"}
  back: {en: "0 Back"}
  home: {en: "00 Home"}
  invalid: {en: "Invalid choice."}
  exit: {en: "Thank you. Goodbye."}
  resume: {en: "Continue where you left off?\\n1 Continue\\n2 Start again"}
  unavailable: {en: "Service busy. Please try again in a few minutes."}
screens:
  main:
    type: menu
    text: {en: "Pick a topic"}
    options:
"""
    + "".join(
        f'      - {{key: "{n}", goto: topic{n}, label: {{en: "Topic {n}"}}}}\n'
        for n in range(1, 13)
    )
    + "".join(
        f'  topic{n}:\n    type: text\n    end: true\n    text: {{en: "This is topic {n}."}}\n'
        for n in range(1, 13)
    )
)


@pytest.fixture
async def twelve(aiohttp_client: Any, settings: Settings, tmp_path: Path) -> TestClient[Any, Any]:
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "twelve.yaml").write_text(TWELVE, encoding="utf-8")
    live = settings_with(settings, MENUS=str(menus), CALLBACK_SECRET=SECRET)
    app = await create_app(live, broadcast_worker=False)
    test_client: TestClient[Any, Any] = await aiohttp_client(app)
    return test_client


async def test_options_ten_and_above_are_keyed_as_two_digits_and_1_hash_is_still_one(
    twelve: TestClient[Any, Any],
) -> None:
    phone = call(twelve, "+254700777003")
    menu = await phone.dial()
    assert "1 1 Topic 1 1. 1 2 Topic 1 2." in menu.said  # read digit by digit: "one one"
    ten = await phone.press("10")  # key 1 then 0: AT posts "10" once two keys are in
    assert ten.said == "This is topic 1 0."
    phone = call(twelve, "+254700777004")
    await phone.dial()
    one = await phone.press("1#")  # one key, ended by hash: option 1, not 10
    assert one.said == "This is topic 1."
    phone = call(twelve, "+254700777005")
    await phone.dial()
    wrong = await phone.press("13")  # no option 13: the hint, the same screen, no hang-up
    assert wrong.waits_for_digits and wrong.said.startswith("Invalid choice. Pick a topic.")
    bye = await phone.press("99")
    assert bye.said == "Thank you. Goodbye." and phone.ended
