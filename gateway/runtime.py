"""The running gateway's parts, opened in order and closed in reverse.

:func:`open_runtime` builds everything ``gateway serve`` needs from the settings: the
store, the privacy primitives, the subscription and keyword services, the SMS channel
(an SMPP pool, Africa's Talking, or none), the inbox for inbound SMS and receipts, the
USSD service, and an in-process broadcast worker. The web app and the SMPP pool are
two doors into the same services; there is no second path to the data.

The SMPP pool needs the services that also send through it (the inbox answers
keywords by SMS, "send me this by SMS" sends), so they are given a
:class:`LateSender` that the channel is attached to once it exists.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import aiohttp
import structlog

from gateway.broadcast.effects import StoreEffectHandler
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.receipts import ReceiptRecorder
from gateway.broadcast.service import AlertService
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.channels.africastalking_sms import AfricasTalkingSMS
from gateway.effects import EffectHandler
from gateway.keywords import load_catalog
from gateway.live_tree import LiveTree, tree_file
from gateway.menu.pages import Limit
from gateway.menu.validator import load_valid_tree
from gateway.messages import OutboundSMS, SendOutcome, SendResult, SMSSender
from gateway.privacy import NumberVault, PhoneHasher
from gateway.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from gateway.settings import Settings
from gateway.smpp.pool import SMPPPool
from gateway.store.port import Store
from gateway.store.sqlite import SQLiteStore
from gateway.ussd.service import ServiceOptions, USSDService

log = structlog.get_logger("gateway.runtime")


class LateSender:
    """An :class:`SMSSender` whose channel is attached after it is handed out."""

    def __init__(self) -> None:
        self.target: SMSSender | None = None

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        if self.target is None:
            return [
                SendResult(m.reference, SendOutcome.RETRY, error="no SMS channel configured")
                for m in messages
            ]
        return await self.target.send(messages)


class StoreDropOff:
    """Drop-off counts kept in the store (implements ``SessionEndRecorder``)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    async def record_end(self, day: dt.date, screen_id: str, status: str) -> None:
        await self._store.record_session_end(day.isoformat(), screen_id, status)

    async def ends(self, since: dt.date) -> list[tuple[dt.date, str, str, int]]:
        rows = await self._store.session_end_counts(since.isoformat())
        return [(dt.date.fromisoformat(r.day), r.screen_id, r.status, r.count) for r in rows]


@dataclass
class Runtime:
    settings: Settings
    store: Store
    live_tree: LiveTree
    hasher: PhoneHasher
    vault: NumberVault
    subscriptions: SubscriptionService
    inbox: SMSInbox
    effects: EffectHandler
    sender: LateSender
    channel: str  # "smpp" | "africastalking" | "none"
    sessions: SessionStore
    ussd: USSDService
    alerts: AlertService
    dropoff: StoreDropOff
    smpp: SMPPPool | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)

    def link_status(self) -> list[dict[str, object]]:
        return list(self.smpp.status()) if self.smpp is not None else []


def channel_for(settings: Settings) -> str:
    if settings.sms_channel != "auto":
        return settings.sms_channel
    return "smpp" if settings.smsc else "africastalking" if settings.at_api_key else "none"


@contextlib.asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    session_store: SessionStore | None = None,
    effects: EffectHandler | None = None,
    broadcast_worker: bool = True,
) -> AsyncIterator[Runtime]:
    limit = Limit(settings.screen_limit)
    live = LiveTree(load_valid_tree(tree_file(settings), settings.content, limit))
    store: Store = await SQLiteStore.open(settings.db_url)
    sessions = session_store or (
        RedisSessionStore.from_url(settings.redis_url)
        if settings.redis_url
        else MemorySessionStore()
    )
    async with contextlib.AsyncExitStack() as stack:
        stack.push_async_callback(store.close)
        stack.push_async_callback(sessions.close)
        hasher = PhoneHasher(settings.hash_key)
        vault = NumberVault(settings.encryption_key)
        sender = LateSender()
        subscriptions = SubscriptionService(store, hasher, vault)
        keywords = KeywordService(subscriptions, load_catalog(settings.content))
        inbox = SMSInbox(store, subscriptions, keywords, ReceiptRecorder(store), sender)
        handler = effects or StoreEffectHandler(subscriptions, sender, settings.sms_prefix)
        service = USSDService(
            live,
            sessions,
            hasher,
            handler,
            ServiceOptions(limit, settings.session_ttl, settings.resume_window),
        )
        runtime = Runtime(
            settings=settings,
            store=store,
            live_tree=live,
            hasher=hasher,
            vault=vault,
            subscriptions=subscriptions,
            inbox=inbox,
            effects=handler,
            sender=sender,
            channel=channel_for(settings),
            sessions=sessions,
            ussd=service,
            alerts=AlertService(store, [topic.code for topic in keywords.catalog.topics]),
            dropoff=StoreDropOff(store),
        )
        if runtime.channel == "smpp":
            pool = SMPPPool(settings.smsc, sink=inbox, ussd_handler=service)
            await pool.start()
            stack.push_async_callback(pool.stop)
            runtime.smpp = pool
            sender.target = pool
        elif runtime.channel == "africastalking":
            session = await stack.enter_async_context(aiohttp.ClientSession())
            sender.target = AfricasTalkingSMS(
                session,
                settings.at_sms_url,
                settings.at_username,
                settings.at_api_key,
                settings.at_sender_id,
            )
        if broadcast_worker and sender.target is not None:
            worker = BroadcastWorker(
                store,
                sender,
                vault,
                WorkerOptions(
                    channel=runtime.channel,
                    tps=_channel_tps(settings, runtime.channel),
                    sms_prefix=settings.sms_prefix,
                ),
            )
            task = asyncio.create_task(worker.run(), name="broadcast-worker")
            runtime.tasks.append(task)
            stack.push_async_callback(_cancel, task)
        log.info(
            "gateway.runtime",
            channel=runtime.channel,
            sessions=type(sessions).__name__,
            tree=live.current.id,
            broadcast_worker=bool(runtime.tasks),
        )
        yield runtime


def _channel_tps(settings: Settings, channel: str) -> float:
    if channel == "smpp" and settings.smsc:
        return sum(smsc.tps * smsc.binds for smsc in settings.smsc if smsc.bind_mode != "receiver")
    return settings.broadcast_tps


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
