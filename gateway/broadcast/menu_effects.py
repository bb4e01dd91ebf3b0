"""The store-backed :class:`gateway.menu.effect_port.EffectHandler`: what the USSD menu asks for.

Subscribe and unsubscribe go through the same :class:`SubscriptionService` as the SMS
keywords; "send me this by SMS" goes straight to the SMS channel. A caller's input
never makes this raise: failures are logged (without the number) and swallowed, as the
port requires, because the screen has already been shown.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Sequence

import structlog

from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.text import compose
from gateway.menu.effect_port import Caller
from gateway.menu.effects import (
    Effect,
    SMSCopyRequested,
    SubscribeRequested,
    UnsubscribeRequested,
)
from gateway.sms.messages import OutboundSMS, SMSSender

log = structlog.get_logger(__name__)


class StoreEffectHandler:
    def __init__(
        self,
        subscriptions: SubscriptionService,
        sender: SMSSender | None,
        sms_prefix: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._subscriptions = subscriptions
        self.sender = sender
        self._prefix = sms_prefix
        self._clock = clock
        self._copies: set[asyncio.Task[None]] = set()
        # Set by the runtime with several services: a service's store key -> the number
        # its SMS go out from ("" the channel's configured sender).
        self.sender_of: Callable[[str], str] = lambda service: ""

    async def handle(self, caller: Caller, effects: Sequence[Effect]) -> None:
        for effect in effects:
            try:
                await self._handle_one(caller, effect)
            except Exception as exc:
                log.error("effect.failed", effect=type(effect).__name__, error=type(exc).__name__)

    async def _handle_one(self, caller: Caller, effect: Effect) -> None:
        now = self._clock()
        if isinstance(effect, SubscribeRequested):
            await self._subscriptions.join(
                caller.msisdn,
                caller.channel,
                effect.topic,
                effect.language,
                now,
                effect.region,
                service=caller.service,
            )
        elif isinstance(effect, UnsubscribeRequested):
            # In a service's menu, "stop" and "leave" are that service's.
            if effect.topic is None:
                await self._subscriptions.stop(
                    caller.msisdn_hash, now, reason="ussd", service=caller.service
                )
            else:
                await self._subscriptions.leave_topic(
                    caller.msisdn_hash, effect.topic, service=caller.service
                )
        elif isinstance(effect, SMSCopyRequested):
            if self.sender is None:
                log.warning("effect.sms_copy_without_channel", screen=effect.screen_id)
                return
            message = OutboundSMS(
                reference=f"copy:{uuid.uuid4().hex}",
                recipient=caller.msisdn,
                text=compose(self._prefix, effect.text),
                request_receipt=False,
                urgent=True,  # the caller is waiting for it: ahead of any broadcast
                sender=self.sender_of(caller.service),
            )
            # Sent beside the USSD reply, not before it: a submit can wait on the SMSC's
            # window or throttling, and the handset's screen must not.
            task = asyncio.create_task(self._send_copy(self.sender, message, effect.screen_id))
            self._copies.add(task)
            task.add_done_callback(self._copies.discard)

    async def _send_copy(self, sender: SMSSender, message: OutboundSMS, screen_id: str) -> None:
        try:
            results = await sender.send([message])
            outcome = results[0].outcome.value if results else "none"
            log.info("effect.sms_copy", screen=screen_id, outcome=outcome)
        except Exception as exc:  # best effort: the caller can ask again
            log.warning("effect.sms_copy_failed", screen=screen_id, error=type(exc).__name__)

    async def drain(self) -> None:
        """Wait for the SMS copies still being sent (at shutdown)."""
        await asyncio.gather(*self._copies, return_exceptions=True)
