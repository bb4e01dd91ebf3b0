"""The running gateway's parts, opened in order and closed in reverse.

:func:`open_runtime` builds everything ``gateway serve`` needs from the settings: the
messaging services (store, subscriptions, keywords, inbox, receipts, alerts; see
:func:`gateway.broadcast.messaging.open_messaging`), the SMS channel (an SMPP pool,
Africa's Talking, or none; :func:`gateway.server.sms_channel.open_sms_sender`), the USSD
service, and an in-process broadcast worker. The web app and the SMPP pool are two
doors into the same services; there is no second path to the data.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import structlog

from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.messaging import Messaging, open_messaging
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.menu.effect_port import EffectHandler
from gateway.menu.pages import Limit
from gateway.menu.validator import load_valid_tree
from gateway.observability.metrics import Metrics
from gateway.server.live_tree import LiveTree, tree_file
from gateway.server.sms_channel import channel_statuses, open_sms_sender, receipt_timeouts_for
from gateway.settings import Settings
from gateway.smpp.pool import SMPPPool
from gateway.sms.channel_status import ChannelStatus
from gateway.sms.menu_dialect import menu_limit
from gateway.sms.messages import DeliveryReport, InboundSMS, SMSSender
from gateway.store.port import Store
from gateway.ussd.service import ServiceOptions, USSDService
from gateway.ussd.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from gateway.ussd.sms_menu import SMSMenu, SMSMenuOptions

log = structlog.get_logger("gateway.server.runtime")


class CountingInbox:
    """The inbox, with every delivery report counted in the metrics by channel and state."""

    def __init__(self, inbox: SMSInbox, metrics: Metrics) -> None:
        self._inbox = inbox
        self._metrics = metrics

    async def on_inbound_sms(self, message: InboundSMS) -> None:
        await self._inbox.on_inbound_sms(message)

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        await self._inbox.on_delivery_report(report)
        self._metrics.delivery_report(report.channel.split(":", 1)[0], report.state.value)

    async def on_opt_out(self, channel: str, msisdn: str) -> None:
        await self._inbox.on_opt_out(channel, msisdn)


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
    messaging: Messaging
    live_tree: LiveTree
    sessions: SessionStore
    ussd: USSDService
    sms_menu: USSDService  # the same tree by SMS (gateway.ussd.sms_menu)
    dropoff: StoreDropOff
    metrics: Metrics
    inbox: CountingInbox
    channel: str  # "smpp" | "africastalking" | "log" | "none"
    sender: SMSSender | None = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    worker_stop: asyncio.Event = field(default_factory=asyncio.Event)

    @property
    def store(self) -> Store:
        return self.messaging.store

    @property
    def smpp(self) -> SMPPPool | None:
        return self.sender if isinstance(self.sender, SMPPPool) else None

    def link_status(self) -> list[dict[str, object]]:
        return list(self.smpp.status()) if self.smpp is not None else []

    def channel_statuses(self) -> list[ChannelStatus]:
        """Whether each SMS channel of this process can send right now."""
        return channel_statuses(self.settings, self.channel, self.link_status())

    async def stop_worker(self) -> None:
        """The broadcast worker claims no new rows and finishes what it holds."""
        self.worker_stop.set()
        await asyncio.gather(*self.tasks, return_exceptions=True)


def wants_channel(settings: Settings) -> bool:
    """Embedded defaults send no SMS: a channel needs SMSCs, an AT API key, or a choice."""
    if settings.sms_channel == "none":
        return False
    if settings.sms_channel == "auto":
        return bool(settings.smsc) or bool(settings.at_api_key)
    return True


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
    async with contextlib.AsyncExitStack() as stack:
        messaging = await stack.enter_async_context(open_messaging(settings))
        sessions = session_store or (
            RedisSessionStore.from_url(settings.redis_url)
            if settings.redis_url
            else MemorySessionStore()
        )
        stack.push_async_callback(sessions.close)
        metrics = Metrics()
        service = USSDService(
            live,
            sessions,
            messaging.hasher,
            effects or messaging.effects,
            ServiceOptions(limit, settings.session_ttl, settings.resume_window),
        )
        sms_service = USSDService(
            live,
            sessions,
            messaging.hasher,
            effects or messaging.effects,
            ServiceOptions(
                menu_limit(settings.sms_menu_parts), settings.sms_menu_ttl, settings.resume_window
            ),
        )
        messaging.inbox.menu = SMSMenu(
            sms_service,
            sessions,
            messaging.hasher,
            SMSMenuOptions(
                settings.sms_menu_parts,
                settings.sms_menu_per_minute,
                messaging.keywords.catalog.default_language,
            ),
        )
        runtime = Runtime(
            settings=settings,
            messaging=messaging,
            live_tree=live,
            sessions=sessions,
            ussd=service,
            sms_menu=sms_service,
            dropoff=StoreDropOff(messaging.store),
            metrics=metrics,
            inbox=CountingInbox(messaging.inbox, metrics),
            channel="none",
        )
        if wants_channel(settings):
            channel, sender = await stack.enter_async_context(
                open_sms_sender(settings, runtime.inbox, messaging.hasher.hash, service)
            )
            runtime.channel, runtime.sender = channel, sender
            messaging.use_sender(sender)  # SMPP binds share the TPS grant (open_sms_sender)
            if broadcast_worker:
                worker = BroadcastWorker(
                    messaging.store,
                    sender,
                    messaging.vault,
                    WorkerOptions(
                        channel=runtime.channel,
                        tps=_channel_tps(settings, runtime.channel),
                        sms_prefix=settings.sms_prefix,
                        receipt_timeouts=receipt_timeouts_for(settings, runtime.channel),
                    ),
                )
                task = asyncio.create_task(
                    _supervise(worker, runtime.worker_stop), name="broadcast-worker"
                )
                runtime.tasks.append(task)
                stack.push_async_callback(_cancel, task)
        log.info(
            "gateway.server.runtime",
            channel=runtime.channel,
            sessions=type(sessions).__name__,
            tree=live.current.id,
            broadcast_worker=bool(runtime.tasks),
        )
        yield runtime


def _channel_tps(settings: Settings, channel: str) -> float:
    if channel == "smpp" and settings.smsc:
        return sum(
            min(smsc.tps * smsc.binds, smsc.shared_tps or float("inf"))
            for smsc in settings.smsc
            if smsc.bind_mode != "receiver"
        )
    return settings.broadcast_tps


async def _supervise(worker: BroadcastWorker, stop: asyncio.Event, pause: float = 5.0) -> None:
    """Keep the in-process worker running: a failure (the store away, say) is logged and
    the worker starts again; the outbox keeps every row, so nothing is lost meanwhile."""
    while not stop.is_set():
        try:
            await worker.run(stop=stop)
        except Exception as exc:
            log.error("broadcast.worker_failed", error=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), pause)


async def _cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
