"""The menu by SMS over Africa's Talking: inbound SMS callbacks in, replies at the AT double.

The whole gateway (``create_app``) with its SMS channel pointed at the AT double and
its sessions in a real Redis: a caller texts MENU, walks the sample tree by option
numbers in English and in Arabic, subscribes, goes back, quick-exits; keywords keep
precedence; one number gets at most the per-minute limit of menu SMS.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms.menu_dialect import parts_needed
from gateway.ussd.sessions import HITS_PREFIX, MemorySessionStore, RedisSessionStore
from tests.at_double import ATDouble
from tests.conftest import settings_with
from tests.smpp.smsc_driver import eventually

SECRET = "test-callback-secret-0123456789"
ENGLISH = "+254700555001"
ARABIC = "+254700555002"
BUSY = "+254700555003"
_ids = itertools.count(1)


@dataclass
class Phone:
    client: TestClient[Any, Any]
    double: ATDouble
    number: str

    async def text(self, body: str) -> str | None:
        """Send ``body`` as an SMS; the gateway's reply, or None when none comes."""
        before = len(self.double.messages_to(self.number))
        response = await self.client.post(
            f"/africastalking/sms?key={SECRET}",
            data={"from": self.number, "to": "21212", "text": body, "id": f"m{next(_ids)}"},
        )
        assert response.status == 200
        runtime = self.client.app[RUNTIME]
        await runtime.messaging.inbox.drain()
        got = self.double.messages_to(self.number)
        return got[before].text if len(got) > before else None


def at_settings(settings: Settings, double_url: str, **extra: str) -> Settings:
    return settings_with(
        settings,
        SMS_CHANNEL="africastalking",
        AT_SMS_URL=double_url,
        AT_API_KEY="at-double-key",
        **extra,
    )


async def gateway(
    aiohttp_client: Any, settings: Settings, double: tuple[ATDouble, str], store: Any, **extra: str
) -> TestClient[Any, Any]:
    app = await create_app(
        at_settings(settings, double[1], **extra), session_store=store, broadcast_worker=False
    )
    client: TestClient[Any, Any] = await aiohttp_client(app)
    return client


async def redis_phone(
    aiohttp_client: Any,
    settings: Settings,
    double: tuple[ATDouble, str],
    redis_url: str,
    number: str,
) -> Phone:
    """``number``'s phone, texting a gateway that keeps its sessions in Redis."""
    store = RedisSessionStore.from_url(redis_url)
    client = await gateway(aiohttp_client, settings, double, store, SMS_MENU_PER_MINUTE="30")
    return Phone(client, double[0], number)


async def test_an_english_walk_by_sms(
    aiohttp_client: Any, settings: Settings, double: tuple[ATDouble, str], redis_url: str
) -> None:
    phone = await redis_phone(aiohttp_client, settings, double, redis_url, ENGLISH)
    client = phone.client
    walk = [
        ("MENU", "Language\n1 English"),
        ("1", "Safe journey info"),  # English, home
        ("1", "Hotlines"),
        ("0", "Safe journey info"),  # back
        ("4", "Verified alerts by SMS"),
        ("00", "Safe journey info"),  # home
        ("7", "Invalid choice."),  # re-shown with a hint
        ("99", "Thank you. Goodbye."),  # quick exit
    ]
    for sent, expected in walk:
        reply = await phone.text(sent)
        assert reply is not None and reply.startswith(expected), (sent, reply)
        assert parts_needed(reply) == 1  # one SMS, never cut by the network
    # After the quick exit a number is not menu input any more: the keyword help answers.
    assert await phone.text("1") == "Sorry, not understood. Reply HELP for options."
    # The session key is a keyed hash: no number in Redis, and the menu is counted apart.
    metrics = await (await client.get("/metrics")).text()
    assert 'channel="sms"' in metrics
    import redis as redis_sync

    keys = redis_sync.Redis.from_url(redis_url).keys("*")
    assert keys and not any(ENGLISH.lstrip("+").encode() in key for key in keys)


async def test_an_arabic_walk_subscribes_and_keywords_keep_precedence(
    aiohttp_client: Any, settings: Settings, double: tuple[ATDouble, str], redis_url: str
) -> None:
    phone = await redis_phone(aiohttp_client, settings, double, redis_url, ARABIC)
    client = phone.client
    home = await phone.text("قائمة")  # the Arabic MENU opens in Arabic, at home
    assert home is not None and "1 " in home and len(home) <= 70
    assert any("\u0600" <= char <= "\u06ff" for char in home)
    alerts = await phone.text("٤")  # Arabic-Indic 4: alerts by SMS
    assert alerts is not None and alerts != home
    help_reply = await phone.text("مساعدة")  # HELP in Arabic: the keyword, not menu input
    assert help_reply is not None and help_reply.startswith("أرسل اشتراك MED")
    done = await phone.text("1")  # the menu continues where it was: subscribe
    assert done is not None and parts_needed(done) == 1
    runtime = client.app[RUNTIME]
    person = await runtime.store.get_subscriber(runtime.messaging.subscriptions.hash(ARABIC))
    assert person is not None and person.language == "ar"
    topics = [s.topic for s in await runtime.store.subscriptions(person.id)]
    assert topics == ["route-alerts"]
    # The subscribe screen closes the session: a number is no longer menu input.
    assert await phone.text("1") == "لم نفهم الرسالة. أرسل مساعدة."


async def test_one_number_gets_at_most_the_per_minute_limit(
    aiohttp_client: Any, settings: Settings, double: tuple[ATDouble, str]
) -> None:
    now = [1000.0]
    store = MemorySessionStore(clock=lambda: now[0])
    client = await gateway(aiohttp_client, settings, double, store, SMS_MENU_PER_MINUTE="3")
    phone = Phone(client, double[0], BUSY)
    assert (await phone.text("MENU") or "").startswith("Language\n1 English")
    assert (await phone.text("1") or "").startswith("Safe journey info")
    assert (await phone.text("1") or "").startswith("Hotlines")
    assert await phone.text("0") is None  # the 4th in a minute: recorded, not answered
    assert await phone.text("0") is None
    stored = store.keys()
    assert any(key.startswith(HITS_PREFIX) for key in stored)
    # Keywords are not menu traffic: HELP still gets its answer.
    assert (await phone.text("HELP") or "").startswith("Reply JOIN MED for")
    now[0] += 61  # a new window; the place in the menu did not move while throttled
    assert (await phone.text("0") or "").startswith("Safe journey info")
    await eventually(lambda: len(double[0].messages_to(BUSY)) == 5)
