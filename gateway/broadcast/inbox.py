"""Where SMS channels hand inbound traffic: keywords, receipts, opt-outs.

Implements :class:`gateway.sms.messages.InboundSink`. An inbound SMS is recognised
again by (channel, message id): the keyword's effect is applied first (every effect
is idempotent), then the message is recorded, and only a first recording gets a
reply, so a re-delivered MO is stored once and answered once. The stored row holds
the sender's keyed hash and the command name, never the number or free text (people
write other people's numbers in messages).
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import structlog

from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.receipt_recorder import ReceiptRecorder, channel_family
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.sms.keywords import Command, CommandKind, parse
from gateway.sms.messages import (
    DeliveryReport,
    InboundSMS,
    OutboundSMS,
    SendOutcome,
    SMSSender,
)
from gateway.store.port import Store
from gateway.store.records import DeliveryUpdate

log = structlog.get_logger(__name__)


class MenuBySMS(Protocol):
    """The menu tree by SMS (:class:`gateway.ussd.sms_menu.SMSMenu`)."""

    async def reply(self, message: InboundSMS, command: Command) -> tuple[bool, str | None]:
        """(whether ``message`` was menu traffic, the SMS to answer it or None)."""


class SMSInbox:
    def __init__(
        self,
        store: Store,
        subscriptions: SubscriptionService,
        keywords: KeywordService,
        receipts: ReceiptRecorder,
        replies: SMSSender | None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._subscriptions = subscriptions
        self._keywords = keywords
        self._receipts = receipts
        self.replies = replies
        self._clock = clock
        self._reply_tasks: set[asyncio.Task[None]] = set()
        # Set by the runtime when the gateway serves its menu by SMS: MENU, and any
        # text that is not a keyword while the sender has a menu session open.
        self.menu: MenuBySMS | None = None
        # Set by the runtime with several services: the number texted -> (the service's
        # store key, whether that service claims the number as its own).
        self.service_of: Callable[[str], tuple[str, bool]] = lambda recipient: ("", False)
        # ... and the number a reply to it goes out from ("" the configured sender).
        self.reply_sender: Callable[[str], str] = lambda recipient: ""
        # Replies that were due and not sent, by reason (read by /metrics).
        self.unsent: Counter[str] = Counter()

    def _unsent(self, reason: str) -> None:
        self.unsent[reason] += 1
        log.warning("sms.reply_unsent", reason=reason)

    async def on_inbound_sms(self, message: InboundSMS) -> None:
        if await self._store.has_inbound(message.channel, message.message_id):
            log.info("sms.inbound_duplicate", channel=message.channel)
            return
        now = self._clock()
        service, own_number = self.service_of(message.recipient)
        command = parse(message.text, self._keywords.catalog_for(service))
        reply: str | None = None
        handled = False
        if self.menu is not None and command.kind in (CommandKind.MENU, CommandKind.UNKNOWN):
            handled, reply = await self.menu.reply(message, command)
        if not handled:
            reply = await self._keywords.respond(
                message.sender, message.channel, command, now, service, own_number
            )
        elif command.kind is CommandKind.UNKNOWN:
            command = Command(CommandKind.MENU)  # recorded as menu traffic, not as unknown
        first = await self._store.record_inbound(
            message.channel,
            message.message_id,
            self._subscriptions.hash(message.sender),
            message.recipient,
            command.kind.value,
            message.received_at or now,
        )
        log.info("sms.inbound", channel=message.channel, command=command.kind.value, first=first)
        if not (first and reply):
            return  # nothing due: a re-delivery (answered the first time), a second STOP
        if self.replies is None:
            self._unsent("no_sms_channel")
            return
        outbound = OutboundSMS(
            f"reply:{message.message_id}",
            message.sender,
            reply,
            False,
            urgent=True,
            sender=self.reply_sender(message.recipient),
        )
        task = asyncio.create_task(self._send_reply(outbound))
        self._reply_tasks.add(task)
        task.add_done_callback(self._reply_tasks.discard)

    async def _send_reply(self, message: OutboundSMS) -> None:
        assert self.replies is not None
        try:
            results = await self.replies.send([message])
        except Exception as exc:  # a reply is best effort; the effect is already durable
            log.warning("sms.reply_failed", error=type(exc).__name__)
            self._unsent(f"error:{type(exc).__name__}")
            return
        outcome = results[0].outcome.value if results else "none"
        log.info("sms.reply", outcome=outcome)
        if not results or results[0].outcome is not SendOutcome.ACCEPTED:
            self._unsent(outcome)

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        await self._receipts.record(
            DeliveryUpdate(
                channel_family(report.channel),
                report.message_id,
                report.state.value,
                report.error,
                self._clock(),
            )
        )

    async def on_opt_out(self, channel: str, msisdn: str) -> None:
        """The aggregator says this person blocked us: the same as STOP, no reply."""
        await self._subscriptions.stop(
            self._subscriptions.hash(msisdn), self._clock(), reason=f"{channel}_optout"
        )

    async def drain(self) -> None:
        """Wait for replies still being sent (at shutdown, in tests)."""
        if self._reply_tasks:
            await asyncio.gather(*self._reply_tasks, return_exceptions=True)
