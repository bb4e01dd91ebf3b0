"""Roamers are offered the SMS menu, through the whole gateway (``create_app``).

A caller whose number is Ugandan (written ``+256700000001``, or in Arabic-Indic digits
with spaces) on a Kenyan network (``networkCode`` 63902): over AT USSD and over the AT
SMS callback, in English and in Arabic, they read "text MENU to <number>" once, before
home. The service's SMS number is ``+447700900123``, in Ofcom's range for drama
(07700 900000-900999), never a subscriber's. Callers at home get no offer, and a
gateway with no SMS channel makes none (no false promise).
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms.menu_dialect import parts_needed
from tests.at_double import ATDouble
from tests.conftest import settings_with

SECRET = "test-callback-secret-0123456789"
SMS_NUMBER = "+447700900123"
KENYA = "63902"
ROAMER_PLAIN = "+256700000001"
ROAMER_ARABIC_DIGITS = "+٢٥٦ ٧٠٠ ٠٠٠ ٠٠٢"  # +256700000002, as a phone set to Arabic writes it
OFFER_EN = f"Abroad? This code may not work. Text MENU to {SMS_NUMBER}\n1 Continue"
OFFER_AR = f"في الخارج؟ قد لا يعمل الرمز. أرسل قائمة إلى {SMS_NUMBER}\n1 متابعة"
_ids = itertools.count(1)


@pytest.fixture
def menus(tmp_path: Path, settings: Settings) -> Path:
    folder = tmp_path / "menus"
    folder.mkdir()
    text = Path(settings.menus).read_text(encoding="utf-8")
    text = text.replace("sample: true\n", f'sample: true\nsms_number: "{SMS_NUMBER}"\n', 1)
    (folder / "safe-journey.yaml").write_text(text, encoding="utf-8")
    return folder


async def gateway(
    aiohttp_client: Any, settings: Settings, menus: Path, **extra: str
) -> TestClient[Any, Any]:
    """The whole gateway on ``menus``; ``extra``: more settings (``SMS_CHANNEL="log"``)."""
    live = settings_with(settings, MENUS=str(menus), CALLBACK_SECRET=SECRET, **extra)
    app = await create_app(live, broadcast_worker=False)
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def dial(client: TestClient[Any, Any], session: str, caller: str, text: str) -> str:
    response = await client.post(
        f"/africastalking/ussd?key={SECRET}",
        data={
            "sessionId": session,
            "serviceCode": "*384#",
            "phoneNumber": caller,
            "networkCode": KENYA,
            "text": text,
        },
    )
    assert response.status == 200
    return await response.text()


@pytest.mark.parametrize(
    ("caller", "language_key", "offer", "home"),
    [
        (ROAMER_PLAIN, "1", OFFER_EN, "Safe journey info"),
        (ROAMER_ARABIC_DIGITS, "3", OFFER_AR, "سفر آمن"),
    ],
)
async def test_a_roamer_on_ussd_reads_the_sms_number_once_in_their_language(
    aiohttp_client: Any,
    settings: Settings,
    menus: Path,
    caller: str,
    language_key: str,
    offer: str,
    home: str,
) -> None:
    client = await gateway(aiohttp_client, settings, menus, SMS_CHANNEL="log")
    session = f"roam-{next(_ids)}"
    assert (await dial(client, session, caller, "")).startswith("CON Language")
    assert await dial(client, session, caller, language_key) == f"CON {offer}"
    shown = await dial(client, session, caller, f"{language_key}*1")
    assert shown.startswith(f"CON {home}") and SMS_NUMBER not in shown
    hotlines = await dial(client, session, caller, f"{language_key}*1*1")
    # On a Kenyan network, Kenya's hotlines come first, then Uganda's (their home).
    assert hotlines.startswith("CON ") and SMS_NUMBER not in hotlines


async def test_no_offer_at_home_nor_without_an_sms_channel(
    aiohttp_client: Any, settings: Settings, menus: Path
) -> None:
    client = await gateway(aiohttp_client, settings, menus, SMS_CHANNEL="log")
    await dial(client, "home-1", "+254700000001", "")
    assert (await dial(client, "home-1", "+254700000001", "1")).startswith("CON Safe journey info")
    quiet = await gateway(aiohttp_client, settings, menus, SMS_CHANNEL="none")
    await dial(quiet, "none-1", ROAMER_PLAIN, "")
    shown = await dial(quiet, "none-1", ROAMER_PLAIN, "1")
    assert shown.startswith("CON Safe journey info") and SMS_NUMBER not in shown


async def text(
    client: TestClient[Any, Any], double: ATDouble, sender: str, body: str
) -> str | None:
    """An SMS from ``sender`` on a Kenyan network; the gateway's reply, if any."""
    wanted = "+" + "".join(str(int(char)) for char in sender if char.isdigit())
    before = len(double.messages_to(wanted))
    response = await client.post(
        f"/africastalking/sms?key={SECRET}",
        data={
            "from": sender,
            "to": "21212",
            "text": body,
            "id": f"r{next(_ids)}",
            "networkCode": KENYA,
        },
    )
    assert response.status == 200
    await client.app[RUNTIME].messaging.inbox.drain()
    got = double.messages_to(wanted)
    return got[before].text if len(got) > before else None


async def test_a_roamer_on_the_sms_menu_reads_the_number_in_english_and_arabic(
    aiohttp_client: Any, settings: Settings, menus: Path, double: tuple[ATDouble, str]
) -> None:
    at, url = double
    client = await gateway(
        aiohttp_client,
        settings,
        menus,
        SMS_CHANNEL="africastalking",
        AT_SMS_URL=url,
        AT_API_KEY="at-double-key",
        SMS_MENU_PER_MINUTE="30",
    )
    assert (await text(client, at, ROAMER_PLAIN, "MENU") or "").startswith("Language")
    offer = await text(client, at, ROAMER_PLAIN, "1")
    assert offer == OFFER_EN and parts_needed(offer) == 1
    home = await text(client, at, ROAMER_PLAIN, "1")
    assert home is not None and home.startswith("Safe journey info")
    # The Arabic MENU word opens in Arabic: the offer comes first, in Arabic, in one SMS.
    arabic = await text(client, at, ROAMER_ARABIC_DIGITS, "قائمة")
    assert arabic == OFFER_AR and parts_needed(arabic) == 1
    arabic_home = await text(client, at, ROAMER_ARABIC_DIGITS, "١")
    assert arabic_home is not None and arabic_home.startswith("سفر آمن")
