"""USSD effects carried out against the store and the AT double."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from gateway.broadcast.menu_effects import StoreEffectHandler
from gateway.menu.effect_port import Caller
from gateway.menu.effects import SMSCopyRequested, SubscribeRequested, UnsubscribeRequested
from gateway.sms.messages import OutboundSMS, SendResult
from tests.broadcast.conftest import Harness, number


def caller(harness: Harness, index: int) -> Caller:
    msisdn = number(index)
    return Caller(msisdn, harness.subscriptions.hash(msisdn), "africastalking", "63902")


async def test_subscribe_unsubscribe_and_sms_copy(harness: Harness) -> None:
    handler = StoreEffectHandler(harness.subscriptions, harness.sender, "Info:")
    who = caller(harness, 1)
    await handler.handle(
        who,
        [
            SubscribeRequested("hotlines", "fr"),
            SubscribeRequested("trafficking", "fr", region="north"),
            SMSCopyRequested("Ligne gratuite: 1510", "fr", "hotlines.main"),
        ],
    )
    await handler.drain()  # the SMS copy goes out beside the USSD reply, not before it
    person = await harness.store.get_subscriber(who.msisdn_hash)
    assert person is not None and person.language == "fr"
    topics = [(s.topic, s.region) for s in await harness.store.subscriptions(person.id)]
    assert topics == [("hotlines", ""), ("trafficking", "north")]
    assert [m.text for m in harness.double.messages_to(who.msisdn)] == [
        "Info: Ligne gratuite: 1510"
    ]
    await handler.handle(who, [UnsubscribeRequested("hotlines", "fr")])
    assert [s.topic for s in await harness.store.subscriptions(person.id)] == ["trafficking"]
    await handler.handle(who, [UnsubscribeRequested(None, "fr")])
    stopped = await harness.store.get_subscriber(who.msisdn_hash)
    assert stopped is not None and stopped.opted_out_at is not None


async def test_a_failing_channel_does_not_raise(harness: Harness) -> None:
    harness.double.fail_next_requests = 5
    handler = StoreEffectHandler(harness.subscriptions, harness.sender, "Info:")
    await handler.handle(caller(harness, 2), [SMSCopyRequested("x", "en", "s")])
    await handler.drain()
    await harness.store.close()  # even a dead store is logged, not raised
    await handler.handle(caller(harness, 2), [SubscribeRequested("hotlines", "en")])


async def test_an_sms_copy_does_not_hold_up_the_ussd_reply(harness: Harness) -> None:
    release = asyncio.Event()

    class SlowSender:
        def __init__(self) -> None:
            self.sent: list[str] = []

        async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
            await release.wait()  # an SMSC that is throttling us
            self.sent.extend(m.text for m in messages)
            return []

    slow = SlowSender()
    handler = StoreEffectHandler(harness.subscriptions, slow, "Info:")
    await asyncio.wait_for(
        handler.handle(caller(harness, 3), [SMSCopyRequested("x", "en", "s")]), timeout=1
    )
    assert slow.sent == []
    release.set()
    await handler.drain()
    assert slow.sent == ["Info: x"]
