"""The AT USSD endpoint end to end, against a real Redis of the test's own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import pytest
import redis
from aiohttp import web
from aiohttp.test_utils import TestClient
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from gateway.menu.effect_port import RecordingEffectHandler
from gateway.menu.effects import SubscribeRequested
from gateway.server.app import create_app
from gateway.settings import Settings
from gateway.ussd.sessions import RedisSessionStore
from tests.servers import RedisServer

SECRET = "test-callback-secret-0123456789"
PHONE = "+254700123456"

Client = TestClient[web.Request, web.Application]
MakeClient = Callable[[web.Application], Awaitable[Client]]


def form(text: str, session: str = "ATUid_1", phone: str = PHONE) -> dict[str, str]:
    return {
        "sessionId": session,
        "serviceCode": "*384*123#",
        "phoneNumber": phone,
        "networkCode": "63902",
        "text": text,
    }


async def post(client: Client, data: dict[str, str], key: str | None = SECRET) -> tuple[int, str]:
    headers = {"X-Callback-Key": key} if key is not None else {}
    response = await client.post("/africastalking/ussd", data=data, headers=headers)
    return response.status, await response.text()


@pytest.fixture
async def redis_app(
    aiohttp_client: Any, settings: Settings, redis_url: str
) -> tuple[Client, RecordingEffectHandler]:
    effects = RecordingEffectHandler()
    store = RedisSessionStore.from_url(redis_url)
    app = await create_app(settings, session_store=store, effects=effects)
    return await aiohttp_client(app), effects


async def test_a_full_walk_through_the_sample_tree(redis_app: Any, redis_url: str) -> None:
    client, effects = redis_app
    assert await post(client, form("")) == (
        200,
        "CON Language\n1 English\n2 Français\n3 العربية\n4 Soomaali",
    )
    status, body = await post(client, form("1"))
    assert status == 200 and body.startswith("CON Safe journey info\n1 Hotlines")
    status, body = await post(client, form("1*1"))
    # networkCode 639 = Kenya, and the screen says so.
    assert body.startswith("CON Hotlines: Kenya\nKenya emergency: 999 or 112")
    status, body = await post(client, form("1*1*00"))
    assert body.startswith("CON Safe journey info")
    status, body = await post(client, form("1*1*00*4"))
    assert body.startswith("CON Verified alerts by SMS")
    status, body = await post(client, form("1*1*00*4*2"))
    assert body == "END Subscribed to trafficking warnings. Send STOP by SMS to stop."
    [(caller, effect)] = effects.handled
    assert effect == SubscribeRequested("trafficking", "en", "KE")
    assert caller.msisdn == PHONE and PHONE not in repr(caller)
    # Nothing in Redis holds the number, in any key or value.
    r = redis.Redis.from_url(redis_url)
    dump = b" ".join(k + b"=" + (r.get(k) or b"") for k in r.keys("*"))
    assert dump and PHONE.encode() not in dump and PHONE[1:].encode() not in dump
    assert all(r.ttl(k) > 0 for k in r.keys("*"))


async def test_a_replayed_request_returns_the_same_screen_and_no_second_effect(
    redis_app: Any,
) -> None:
    client, effects = redis_app
    await post(client, form(""))
    await post(client, form("1"))
    await post(client, form("1*4"))
    first = await post(client, form("1*4*1"))
    again = await post(client, form("1*4*1"))
    assert first == again and first[1].startswith("END Subscribed to route alerts")
    assert len(effects.handled) == 1


async def test_a_re_sent_first_request_is_answered_byte_for_byte_the_same(
    redis_app: Any,
) -> None:
    client, _ = redis_app
    first = await post(client, form("", session="first"))
    again = await post(client, form("", session="first"))
    assert first == again == (200, "CON Language\n1 English\n2 Français\n3 العربية\n4 Soomaali")
    assert "Invalid" not in again[1]
    chosen = await post(client, form("1", session="first"))
    assert chosen[1].startswith("CON Safe journey info") and "Invalid" not in chosen[1]
    # A replay of any later request is byte-identical too, and so is a replay of the
    # first one after the session moved on.
    assert await post(client, form("1", session="first")) == chosen


async def test_the_secret_is_required_and_compared(redis_app: Any) -> None:
    client, _ = redis_app
    assert (await post(client, form(""), key=None))[0] == 403
    assert (await post(client, form(""), key="wrong"))[0] == 403
    response = await client.post(f"/africastalking/ussd?key={SECRET}", data=form(""))
    assert response.status == 200


async def test_a_dropped_session_can_be_resumed_on_redial(redis_app: Any) -> None:
    client, _ = redis_app
    await post(client, form("", session="A"))
    await post(client, form("1", session="A"))
    await post(client, form("1*3", session="A"))
    dropped = await post(client, form("1*3*2", session="A"))
    status, offer = await post(client, form("", session="B"))
    assert status == 200 and offer.startswith("CON Continue where you left off?")
    assert await post(client, form("1", session="B")) == dropped


async def test_quick_exit_leaves_nothing_to_resume(redis_app: Any) -> None:
    client, _ = redis_app
    await post(client, form("", session="A"))
    await post(client, form("1", session="A"))
    await post(client, form("1*3", session="A"))
    assert await post(client, form("1*3*99", session="A")) == (200, "END Thank you. Goodbye.")
    status, fresh = await post(client, form("", session="B"))
    assert status == 200 and fresh.startswith(
        "CON Safe journey info"
    )  # language remembered, no resume offer


async def test_a_dial_string_with_inputs_walks_them_at_once(redis_app: Any) -> None:
    client, _ = redis_app
    status, body = await post(client, form("1*3*1", session="D"))
    assert status == 200 and body.startswith("CON Signs of a fake job offer")


async def test_the_end_notification_counts_drop_off_by_screen(
    aiohttp_client: Any, settings: Settings
) -> None:
    from gateway.server.app_keys import DROPOFF

    app = await create_app(settings)
    client = await aiohttp_client(app)
    await post(client, form(""))
    await post(client, form("1"))
    await post(client, form("1*2"))
    response = await client.post(
        "/africastalking/ussd/end",
        data={
            "sessionId": "ATUid_1",
            "phoneNumber": PHONE,
            "networkCode": "63902",
            "status": "Incomplete",
            "hopsCount": "3",
        },
        headers={"X-Callback-Key": SECRET},
    )
    assert response.status == 200
    import datetime as dt

    ends = await app[DROPOFF].ends(dt.date.min)
    assert [(screen, status, count) for _, screen, status, count in ends] == [
        ("routes", "Incomplete", 1)
    ]


FIELDS = st.dictionaries(
    st.sampled_from(["sessionId", "serviceCode", "phoneNumber", "networkCode", "text", "x"]),
    st.text(max_size=300),
)


@hsettings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(fields=FIELDS)
async def test_any_form_gets_200_with_a_screen_within_the_limit(
    fields: dict[str, str], redis_app: Any
) -> None:
    client, _ = redis_app
    status, body = await post(client, fields)
    assert status == 200
    assert body.startswith(("CON ", "END "))
    from gateway.menu.pages import Limit
    from gateway.sms.encoding import alphabet_for, length_in

    text = body[4:]
    alphabet = alphabet_for(text)
    assert length_in(text, alphabet) <= Limit().for_alphabet(alphabet)


async def test_redis_stopped_mid_session_gives_a_polite_end_and_service_resumes(
    aiohttp_client: Any, settings: Settings, tmp_path: Any
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        app = await create_app(settings, session_store=RedisSessionStore.from_url(server.url))
        client = await aiohttp_client(app)
        assert (await post(client, form("")))[1].startswith("CON Language")
        server.stop()
        status, body = await asyncio.wait_for(post(client, form("1")), timeout=5)
        assert (status, body) == (200, "END Service busy. Please try again in a few minutes.")
        server.start()  # same port
        status, body = await post(client, form("", session="after"))
        assert status == 200 and body.startswith("CON ")
    finally:
        server.stop()


async def test_an_unexpected_fault_still_gives_the_handset_a_polite_end(
    aiohttp_client: Any, settings: Settings
) -> None:
    app = await create_app(settings)

    async def broken(request: Any) -> Any:
        raise RuntimeError("a bug")

    from gateway.server.app_keys import USSD

    app[USSD].handle = broken  # type: ignore[method-assign]  # the route calls this
    client = await aiohttp_client(app)
    status, body = await post(client, form(""))
    assert (status, body) == (200, "END Service busy. Please try again in a few minutes.")
