"""The running gateway's parts, opened in order and closed in reverse.

:func:`open_runtime` builds everything ``gateway serve`` needs from the settings: the
messaging services (store, subscriptions, keywords, inbox, receipts, alerts; see
:func:`gateway.broadcast.messaging.open_messaging`), the SMS channel (an SMPP pool,
Africa's Talking, or none; :func:`gateway.server.sms_channel.open_sms_sender`), the USSD
service, and a broadcast worker. The web app and the SMPP pool are two doors into the
same services; there is no second path to the data.

It is the one composition root: ``gateway serve`` (:func:`gateway.server.app.create_app`),
``gateway broadcast run`` (:mod:`gateway.server.worker_process`), ``gateway simulate``,
the console and the benchmarks all open the runtime here, so a worker paces at the
SMSC grant, answers USSD on its binds and feeds the same metrics as ``serve``.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import structlog

from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.messaging import Messaging, open_messaging
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.menu.effect_port import EffectHandler
from gateway.menu.pages import Limit
from gateway.menu.services import ServiceMap
from gateway.menu.sms_availability import without_sms_copies
from gateway.observability.metrics import (
    Metrics,
    ReadinessCheck,
    callable_check,
    flag_check,
    redis_check,
    smpp_check,
)
from gateway.server.live_tree import LiveTree, ServedTrees
from gateway.server.published import (
    PublishedFollower,
    ServiceFollowers,
    following,
    open_live_tree,
)
from gateway.server.service_trees import open_services
from gateway.server.sms_channel import channel_statuses, open_sms_sender, receipt_timeouts_for
from gateway.settings import Settings
from gateway.smpp.pool import SMPPPool
from gateway.sms.channel_status import ChannelStatus
from gateway.sms.keywords import CatalogError, load_catalog
from gateway.sms.menu_dialect import menu_limit
from gateway.sms.messages import DeliveryReport, InboundSMS, SMSSender
from gateway.store.port import Store
from gateway.store.private_files import private_folder
from gateway.ussd.service import (
    FAULT_SCREEN,
    SERVICE_DOWN_SCREEN,
    UNAVAILABLE_SCREEN,
    ServiceOptions,
    USSDService,
)
from gateway.ussd.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from gateway.ussd.sms_menu import SMSMenu, SMSMenuOptions
from gateway.ussd.types import USSDReply, USSDRequest

log = structlog.get_logger("gateway.server.runtime")
VOICE_PAGE_SEPTETS = 4000
VOICE_SESSION_TTL = 1800


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
    """Drop-off counts kept in the store (implements ``SessionEndRecorder``), per service
    (the code the session came on picks it); a session the aggregator reports as not
    ended by a final screen (``Incomplete``, ``Failed``) is counted in
    ``gateway_ussd_sessions_dropped_total`` too."""

    def __init__(
        self,
        store: Store,
        metrics: Metrics | None = None,
        services: Callable[[], ServiceMap] | None = None,
    ) -> None:
        self._store = store
        self._metrics = metrics
        self._services = services  # the map as it is now (a publish may change codes)

    async def record_end(
        self, day: dt.date, screen_id: str, status: str, service_code: str = ""
    ) -> None:
        services = self._services() if self._services is not None else None
        tree_id = services.route(service_code) if services is not None else ""
        key = services.key_of(tree_id) if services is not None else ""
        if self._metrics is not None and status != "Success":
            self._metrics.session_dropped("africastalking", status.lower() or "unknown", tree_id)
        await self._store.record_session_end(day.isoformat(), screen_id, status, service=key)

    async def ends(self, since: dt.date, service: str = "") -> list[tuple[dt.date, str, str, int]]:
        rows = await self._store.session_end_counts(since.isoformat(), service)
        return [(dt.date.fromisoformat(r.day), r.screen_id, r.status, r.count) for r in rows]


@dataclass(frozen=True)
class WorkerTuning:
    """How this process's broadcast worker runs (the ``gateway broadcast run`` flags)."""

    tps_cap: float | None = None  # at most this rate, whatever the channel's grant
    batch_size: int = 100
    concurrency: int = 4
    lease_seconds: float = 60.0
    until_idle: bool = False  # return once nothing is sending (else run until stopped)


@dataclass
class Runtime:
    settings: Settings
    messaging: Messaging
    live_tree: LiveTree
    served: ServedTrees  # the tree for each service code (gateway.menu.services)
    sessions: SessionStore
    ussd: USSDService
    sms_menu: USSDService  # the same tree by SMS (gateway.ussd.sms_menu)
    voice: USSDService  # the same tree by voice (gateway.africastalking.voice_routes)
    dropoff: StoreDropOff
    metrics: Metrics
    inbox: CountingInbox
    channel: str  # "smpp" | "africastalking" | "log" | "none"
    follower: PublishedFollower  # the default service's
    followers: ServiceFollowers  # every service's, by tree id (the default's first)
    sender: SMSSender | None = None
    worker: BroadcastWorker | None = None
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

    def readiness_checks(self) -> list[ReadinessCheck]:
        """What ``/readyz`` asks of this process: menus loaded, store reachable, Redis
        (if configured) and an SMPP bind (if any) up."""
        checks = [
            flag_check("menus", lambda: bool(self.live_tree.current.screens)),
            callable_check("store", self.store.ping),
        ]
        if self.settings.redis_url:
            checks.append(redis_check(self.sessions))
        if self.smpp is not None:
            checks.append(smpp_check(self.smpp.status))
        return checks

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
    worker_tuning: WorkerTuning | None = None,
    channel_required: bool = False,
    open_channel: bool = True,
) -> AsyncIterator[Runtime]:
    """Open every part for ``settings``; close them in reverse when the block ends.

    ``broadcast_worker`` starts a worker on the SMS channel (when there is one);
    ``channel_required`` opens the channel even on embedded defaults (a process whose
    job is sending: :class:`gateway.server.sms_channel.ChannelUnavailable` if none);
    ``open_channel=False`` opens none (``gateway simulate`` binds to no SMSC).
    """
    tuning = worker_tuning or WorkerTuning()
    limit = Limit(settings.screen_limit)
    # With no SMS channel, the trees are served without their "Send by SMS" options.
    adapt = None if wants_channel(settings) else without_sms_copies
    private_folder(settings.data_dir)
    async with contextlib.AsyncExitStack() as stack:
        messaging = await stack.enter_async_context(open_messaging(settings))
        # The newest valid published menu and content (else the files); raises TreeError
        # naming file:line only when nothing valid exists.
        live, follower = await open_live_tree(settings, messaging.store, adapt)
        # Every other service (service_codes): its tree file and content, or the store's
        # newest valid published versions of them; a service with nothing valid is
        # marked down (log, /status, console banner, metrics) and the others are served.
        opened = await open_services(settings, messaging.store, live, follower, adapt)
        await stack.enter_async_context(following(opened.followers))
        served = opened.served
        down = served.down
        for tree_id, folder in opened.content.items():
            if folder != settings.content and tree_id not in down:
                try:
                    catalog = load_catalog(folder, fallback=settings.content)
                except CatalogError as exc:
                    down[tree_id] = str(exc).splitlines()[0]
                    continue
                messaging.keywords.catalogs[served.services.key_of(tree_id)] = catalog
        for tree_id, why in down.items():
            log.error("gateway.service_down", service=tree_id, reason=why)
        messaging.inbox.service_of = lambda recipient: (
            served.key_for_code(recipient),
            served.services.claims(recipient),
        )
        # Each service's SMS go out from its own number (replies: the number texted).
        messaging.inbox.reply_sender = served.reply_sender
        messaging.effects.sender_of = served.sender_of
        sessions = session_store or (
            RedisSessionStore.from_url(settings.redis_url)
            if settings.redis_url
            else MemorySessionStore()
        )
        stack.push_async_callback(sessions.close)
        metrics = Metrics()
        metrics.follow_tally(metrics.replies_unsent, lambda: messaging.inbox.unsent)

        def menu_service(options: ServiceOptions) -> USSDService:
            """The menu engine of one channel (USSD, the SMS menu, voice): the same trees,
            sessions and effects, its own paging and session time."""
            return USSDService(
                live,
                sessions,
                messaging.hasher,
                effects or messaging.effects,
                options,
                route=served.for_code,
                service_key=served.key,
            )

        service = menu_service(ServiceOptions(limit, settings.session_ttl, settings.resume_window))
        sms_service = menu_service(
            ServiceOptions(
                menu_limit(settings.sms_menu_parts), settings.sms_menu_ttl, settings.resume_window
            )
        )
        # A call is never paged: the whole screen is read, then its options.
        voice_service = menu_service(
            ServiceOptions(Limit(VOICE_PAGE_SEPTETS), VOICE_SESSION_TTL, settings.resume_window)
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
        sms_service.observers.append(ussd_observer(metrics))  # channel "sms"
        voice_service.observers.append(ussd_observer(metrics))  # channel "voice"
        service.observers.append(ussd_observer(metrics))
        runtime = Runtime(
            settings=settings,
            messaging=messaging,
            live_tree=live,
            served=served,
            sessions=sessions,
            ussd=service,
            sms_menu=sms_service,
            voice=voice_service,
            dropoff=StoreDropOff(messaging.store, metrics, lambda: served.services),
            metrics=metrics,
            inbox=CountingInbox(messaging.inbox, metrics),
            channel="none",
            follower=follower,
            followers=opened.followers,
        )
        metrics.follow_broadcasts(messaging.store)
        metrics.follow_services(
            served.ids(),
            lambda: served.down,
            messaging.store.subscriber_counts,
            lambda tree_id: served.services.key_of(tree_id),
        )
        if open_channel and (channel_required or wants_channel(settings)):
            channel, sender = await stack.enter_async_context(
                open_sms_sender(
                    settings,
                    runtime.inbox,
                    messaging.hasher.hash,
                    service,
                    receipt_store=messaging.store,
                )
            )
            runtime.channel, runtime.sender = channel, sender
            messaging.use_sender(sender)  # SMPP binds share the TPS grant (open_sms_sender)
            if runtime.smpp is not None:
                metrics.follow_smpp_status(runtime.smpp.status)
                metrics.follow_smpp_receipts(runtime.smpp.receipt_status)
                metrics.follow_smpp_routes(runtime.smpp.route_status)
            if broadcast_worker:
                worker = BroadcastWorker(
                    messaging.store,
                    sender,
                    messaging.vault,
                    WorkerOptions(
                        channel=runtime.channel,
                        tps=worker_tps(settings, runtime.channel, tuning.tps_cap),
                        sms_prefix=settings.sms_prefix,
                        receipt_timeouts=receipt_timeouts_for(settings, runtime.channel),
                        sender_of=served.sender_of,
                        batch_size=tuning.batch_size,
                        concurrency=tuning.concurrency,
                        lease_seconds=tuning.lease_seconds,
                    ),
                )
                runtime.worker = worker
                running = (
                    worker.run(until_idle=True, stop=runtime.worker_stop)
                    if tuning.until_idle
                    else _supervise(worker, runtime.worker_stop)
                )
                task = asyncio.create_task(running, name="broadcast-worker")
                runtime.tasks.append(task)
                stack.push_async_callback(_cancel, task)
        log.info(
            "gateway.server.runtime",
            channel=runtime.channel,
            sessions=type(sessions).__name__,
            tree=live.current.id,
            menu_version=live.version,
            content_version=live.content_version,
            broadcast_worker=bool(runtime.tasks),
            worker_tps=worker_tps(settings, runtime.channel, tuning.tps_cap)
            if runtime.tasks
            else None,
        )
        yield runtime


def ussd_observer(metrics: Metrics) -> Callable[[USSDRequest, USSDReply, float, str], None]:
    """Count and time every USSD answer, whichever door it came through (AT callbacks
    on the server, USSD over SMPP on the server or a worker's binds), by service."""

    def observe(request: USSDRequest, reply: USSDReply, seconds: float, service: str) -> None:
        channel = request.channel.split(":", 1)[0]
        failed = reply.screen_id in (UNAVAILABLE_SCREEN, FAULT_SCREEN, SERVICE_DOWN_SCREEN)
        outcome = "error" if failed else "end" if reply.end else "continue"
        metrics.ussd_request(channel, outcome, seconds, service)
        if reply.screen_id == UNAVAILABLE_SCREEN:
            metrics.redis_error("session")
        if request.user_input is None or (request.cumulative and request.replay_key == ""):
            metrics.session_started(channel, service)
        if reply.end:
            metrics.session_ended(channel, service)

    return observe


def worker_tps(settings: Settings, channel: str, cap: float | None = None) -> float:
    """The fan-out rate: the SMSC grants over SMPP (each SMSC's binds, or its shared
    grant if smaller), at most ``cap``; a channel with no cap of its own (Africa's
    Talking) goes at ``cap`` or ``GATEWAY_BROADCAST_TPS``."""
    if channel == "smpp" and settings.smsc:
        granted = sum(
            min(smsc.tps * smsc.binds, smsc.shared_tps or float("inf"))
            for smsc in settings.smsc
            if smsc.bind_mode != "receiver"
        )
        return min(granted, cap) if cap else granted
    return cap or settings.broadcast_tps


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
