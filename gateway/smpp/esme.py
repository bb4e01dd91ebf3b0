"""One bind to one SMSC, over asyncio: connect, bind, keep alive, submit, reconnect.

Around the sans-I/O :class:`SMPPConnection`: this module owns the socket, the clock
and the queues. What it guarantees:

- at most ``window`` submit_sm outstanding, and never more than ``tps`` submits in
  any one-second window (:class:`RateLimiter`, on the loop's clock);
- ESME_RTHROTTLED pauses the link (doubling pauses) and resends the same message;
  ESME_RMSGQFUL, ESME_RSYSERR and ESME_RX_T_APPN are retried ``temporary_retries``
  times, then reported RETRY; every other error is FAILED and never resent;
- a lost link is rebuilt with exponential backoff and jitter, one log line per
  attempt. Submits that were in flight are sent again on the new link: a message
  is submitted at least once, and at most ``window`` of them twice per link loss;
- requests from the SMSC are answered: enquire_link, unbind, deliver_sm (only once
  ``on_deliver`` returned, i.e. after the inbound item is stored), and anything
  undecodable with generic_nack;
- ``stop()`` unbinds cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from smpplib import consts

from gateway.messages import SendOutcome
from gateway.settings import SMSCSettings
from gateway.smpp import codec
from gateway.smpp.connection import Role, SMPPConnection, State
from gateway.smpp.errors import LinkError, LocalProtocolError, SMPPError, SMPPProtocolError
from gateway.smpp.events import (
    BindRejected,
    Bound,
    Event,
    IdleTimeElapsed,
    InvalidPDUReceived,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    Unbound,
)
from gateway.smpp.pdu import (
    PDU,
    BindReceiver,
    BindTransceiver,
    BindTransmitter,
    DataSM,
    DataSMResp,
    DeliverSM,
    DeliverSMResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSM,
    SubmitSMResp,
    Unbind,
    UnbindResp,
)
from gateway.smpp.throttle import RateLimiter

log = structlog.get_logger(__name__)

TEMPORARY_STATUSES = frozenset(
    {consts.SMPP_ESME_RMSGQFUL, consts.SMPP_ESME_RSYSERR, consts.SMPP_ESME_RX_T_APPN}
)
THROTTLED = consts.SMPP_ESME_RTHROTTLED
_BIND_CLASSES: dict[str, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}

DeliverHandler = Callable[["ESMEBind", DeliverSM], Awaitable[int]]


@dataclass(frozen=True)
class LinkTuning:
    """Timings that are not per-SMSC settings; tests shorten them."""

    reconnect_initial: float = 1.0
    reconnect_max: float = 60.0
    connect_timeout: float = 10.0
    bind_timeout: float = 10.0
    throttle_pause: float = 0.5
    throttle_pause_max: float = 10.0
    temporary_retries: int = 3
    temporary_pause: float = 0.5
    submit_deadline: float = 60.0  # a message waits this long for a link, then RETRY
    tick_interval: float = 0.25
    rate_margin: float = 0.05
    max_pdu_length: int = 4096
    unbind_timeout: float = 2.0


@dataclass(frozen=True)
class PartResult:
    outcome: SendOutcome
    message_id: str = ""
    status: int = 0


@dataclass
class _Job:
    pdu: SubmitSM
    future: asyncio.Future[PartResult]
    queued_at: float
    attempts: int = 0


class _Wire(asyncio.Protocol):
    def __init__(self, bind: ESMEBind) -> None:
        self.bind = bind
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.bind._on_data(self, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.bind._on_lost(self)


@dataclass
class _Stats:
    connects: int = 0
    reconnects: int = 0
    submitted: int = 0
    throttled: int = 0
    last_error: str = ""


class ESMEBind:
    """One bind; ``submit`` queues a submit_sm and resolves with its outcome."""

    def __init__(
        self,
        settings: SMSCSettings,
        index: int = 0,
        *,
        on_deliver: DeliverHandler | None = None,
        tuning: LinkTuning | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.on_deliver = on_deliver
        self.tuning = tuning or LinkTuning()
        self.limiter = RateLimiter(settings.tps, self.tuning.rate_margin)
        self.stats = _Stats()
        self._queue: deque[_Job] = deque()
        self._inflight: dict[int, _Job] = {}
        self._wire: _Wire | None = None
        self._conn: SMPPConnection | None = None
        self._bind_result: asyncio.Future[int] | None = None
        self._link_down: asyncio.Event = asyncio.Event()
        self._unbound: asyncio.Event = asyncio.Event()
        self._bound = asyncio.Event()
        self._stopping = False
        self._paused_until = 0.0
        self._throttle_streak = 0
        self._pump_timer: asyncio.TimerHandle | None = None
        self._run_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._down_since: float | None = None

    # --- public ----------------------------------------------------------------------

    @property
    def name(self) -> str:
        return f"{self.settings.name}#{self.index}"

    @property
    def can_transmit(self) -> bool:
        return self.settings.bind_mode in ("transmitter", "transceiver")

    @property
    def is_bound(self) -> bool:
        return self._bound.is_set()

    @property
    def load(self) -> int:
        return len(self._queue) + len(self._inflight)

    async def start(self) -> None:
        if self._run_task is None:
            self._run_task = asyncio.create_task(self._run(), name=f"smpp-{self.name}")

    async def wait_bound(self) -> None:
        """Wait until bound (callers bound this with ``asyncio.timeout``)."""
        await self._bound.wait()

    def submit(self, pdu: SubmitSM, *, urgent: bool = False) -> asyncio.Future[PartResult]:
        """Queue ``pdu`` (its sequence is assigned on sending); the future never raises."""
        loop = asyncio.get_running_loop()
        job = _Job(pdu, loop.create_future(), loop.time())
        if self._stopping:
            job.future.set_result(PartResult(SendOutcome.RETRY, status=-1))
            return job.future
        if urgent:
            self._queue.appendleft(job)
        else:
            self._queue.append(job)
        self._pump()
        return job.future

    def status(self) -> dict[str, Any]:
        state = self._conn.state.value if self._conn is not None else State.CLOSED.value
        return {
            "smsc": self.settings.name,
            "bind": self.index,
            "mode": self.settings.bind_mode,
            "state": state,
            "bound": self.is_bound,
            "queued": len(self._queue),
            "in_flight": len(self._inflight),
            "connects": self.stats.connects,
            "reconnects": self.stats.reconnects,
            "submitted": self.stats.submitted,
            "throttled": self.stats.throttled,
            "last_error": self.stats.last_error,
        }

    async def stop(self) -> None:
        """Unbind cleanly (bounded in time), close, and answer every queued job RETRY."""
        self._stopping = True
        if self._conn is not None and self._conn.state in (
            State.BOUND_TX,
            State.BOUND_RX,
            State.BOUND_TRX,
        ):
            with contextlib.suppress(SMPPError):
                self._write(self._conn.send(Unbind(sequence=self._conn.next_sequence())))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._unbound.wait(), self.tuning.unbind_timeout)
        if self._wire is not None and self._wire.transport is not None:
            self._wire.transport.close()
        for task in (self._run_task, self._tick_task, *self._tasks):
            if task is not None:
                task.cancel()
        for task in (self._run_task, self._tick_task, *self._tasks):
            if task is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._teardown()
        self._fail_queued(SendOutcome.RETRY)

    # --- the link's life -------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            try:
                await self._connect_and_bind()
                attempt = 0
                self._down_since = None
                await self._link_down.wait()
                if self._stopping:
                    log.info("smpp_unbound", smsc=self.settings.name, bind=self.index)
                else:
                    log.warning("smpp_link_lost", smsc=self.settings.name, bind=self.index)
            except (OSError, TimeoutError, SMPPError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "smpp_connect_failed",
                    smsc=self.settings.name,
                    bind=self.index,
                    attempt=attempt,
                    error=self.stats.last_error,
                )
            finally:
                self._teardown()
            if self._stopping:
                return
            now = loop.time()
            if self._down_since is None:
                self._down_since = now
            self._expire_queued(now)
            attempt += 1
            self.stats.reconnects += 1
            delay = min(
                self.tuning.reconnect_max,
                self.tuning.reconnect_initial * 2 ** min(attempt - 1, 16),
            ) * random.uniform(0.5, 1.5)
            log.info(
                "smpp_reconnect_scheduled",
                smsc=self.settings.name,
                bind=self.index,
                attempt=attempt,
                delay=round(delay, 3),
            )
            await asyncio.sleep(delay)

    async def _connect_and_bind(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        context = ssl.create_default_context() if settings.tls else None
        self._link_down.clear()
        self._unbound.clear()
        _transport, wire = await asyncio.wait_for(
            loop.create_connection(lambda: _Wire(self), settings.host, settings.port, ssl=context),
            self.tuning.connect_timeout,
        )
        self._wire = wire
        self.stats.connects += 1
        conn = SMPPConnection(
            Role.ESME,
            window=settings.window,
            max_length=self.tuning.max_pdu_length,
            enquire_link_interval=settings.enquire_link_interval,
            response_timeout=settings.response_timeout,
        )
        self._conn = conn
        self._bind_result = loop.create_future()
        bind_cls = _BIND_CLASSES[settings.bind_mode]
        self._write(
            conn.send(
                bind_cls(
                    sequence=conn.next_sequence(),
                    system_id=settings.system_id,
                    password=settings.password.reveal(),
                    system_type=settings.system_type,
                )
            )
        )
        self._tick_task = asyncio.create_task(self._ticker(conn))
        status = await asyncio.wait_for(self._bind_result, self.tuning.bind_timeout)
        if status != 0:
            raise LinkError(f"bind refused with status 0x{status:08x}")
        log.info("smpp_bound", smsc=settings.name, bind=self.index, mode=settings.bind_mode)
        self._bound.set()
        self._pump()

    def _teardown(self) -> None:
        """Forget the link; what was in flight goes back to the head of the queue."""
        self._bound.clear()
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        if self._wire is not None and self._wire.transport is not None:
            self._wire.transport.close()
        self._wire = None
        if self._tick_task is not None:
            self._tick_task.cancel()
            self._tick_task = None
        if self._bind_result is not None and not self._bind_result.done():
            self._bind_result.set_exception(LinkError("link lost while binding"))
            self._bind_result.exception()  # mark retrieved
        if self._inflight:
            jobs = [self._inflight[seq] for seq in sorted(self._inflight)]
            self._inflight.clear()
            self._queue.extendleft(reversed(jobs))

    def _expire_queued(self, now: float) -> None:
        """Jobs that waited for a link longer than ``submit_deadline`` are answered RETRY."""
        if self._down_since is None or now - self._down_since < self.tuning.submit_deadline:
            return
        self._fail_queued(SendOutcome.RETRY)

    def _fail_queued(self, outcome: SendOutcome) -> None:
        while self._queue:
            job = self._queue.popleft()
            if not job.future.done():
                job.future.set_result(PartResult(outcome, status=-1))

    async def _ticker(self, conn: SMPPConnection) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(self.tuning.tick_interval)
            if conn is not self._conn:
                return
            self._handle(conn, conn.tick(loop.time()))

    # --- bytes in and out ------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        if self._wire is not None and self._wire.transport is not None:
            self._wire.transport.write(data)

    def _on_lost(self, wire: _Wire) -> None:
        if wire is self._wire:
            self._bound.clear()
            self._link_down.set()
            if self._bind_result is not None and not self._bind_result.done():
                self._bind_result.set_exception(LinkError("connection closed while binding"))

    def _on_data(self, wire: _Wire, data: bytes) -> None:
        conn = self._conn
        if wire is not self._wire or conn is None or conn.state is State.CLOSED:
            return
        try:
            conn.receive_data(data)
        except SMPPProtocolError as exc:
            self._handle(conn, conn.events())
            self.stats.last_error = f"protocol: {exc}"
            log.warning(
                "smpp_peer_protocol_error",
                smsc=self.settings.name,
                bind=self.index,
                status=exc.command_status,
                error=str(exc),
            )
            if exc.sequence and not exc.command_id & 0x80000000:
                self._write(_encode_nack(exc.sequence, exc.command_status))
            self._link_down.set()
            return
        self._handle(conn, conn.events())

    # --- events ----------------------------------------------------------------------

    def _handle(self, conn: SMPPConnection, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                self._on_response(event)
            elif isinstance(event, RequestReceived):
                self._on_request(conn, event.pdu)
            elif isinstance(event, IdleTimeElapsed):
                with contextlib.suppress(SMPPError):
                    self._write(conn.send(EnquireLink(sequence=conn.next_sequence())))
            elif isinstance(event, ResponseTimedOut):
                job = self._inflight.pop(event.sequence, None)
                if job is not None:
                    self._queue.appendleft(job)
                log.warning(
                    "smpp_response_timeout",
                    smsc=self.settings.name,
                    bind=self.index,
                    command_id=f"0x{event.command_id:08x}",
                )
                self.stats.last_error = "response timeout"
                self._link_down.set()
            elif isinstance(event, InvalidPDUReceived):
                self._on_invalid(event)
            elif isinstance(event, Bound | BindRejected):
                if self._bind_result is not None and not self._bind_result.done():
                    status = 0 if isinstance(event, Bound) else event.status
                    self._bind_result.set_result(status)
            elif isinstance(event, Unbound):
                self._unbound.set()
                self._link_down.set()
        self._pump()

    def _on_invalid(self, event: InvalidPDUReceived) -> None:
        log.warning(
            "smpp_invalid_pdu",
            smsc=self.settings.name,
            bind=self.index,
            command_id=f"0x{event.command_id:08x}",
            status=event.status,
        )
        if not event.command_id & 0x80000000:
            self._write(_encode_nack(event.sequence, event.status))
        job = self._inflight.pop(event.sequence, None)
        if job is not None:
            self._settle(job, consts.SMPP_ESME_RSYSERR, "")

    def _on_request(self, conn: SMPPConnection, pdu: PDU) -> None:
        try:
            if isinstance(pdu, EnquireLink):
                self._write(conn.send(EnquireLinkResp(sequence=pdu.sequence)))
            elif isinstance(pdu, Unbind):
                self._write(conn.send(UnbindResp(sequence=pdu.sequence)))
                self._link_down.set()
            elif isinstance(pdu, DeliverSM):
                task = asyncio.create_task(self._deliver(conn, pdu))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
            elif isinstance(pdu, DataSM):
                # MO by data_sm is not used by the SMSCs we bind to; refuse it loudly
                # rather than acknowledge and lose it.
                self._write(
                    conn.send(DataSMResp(sequence=pdu.sequence, status=consts.SMPP_ESME_RINVCMDID))
                )
            else:
                self._write(_encode_nack(pdu.sequence, consts.SMPP_ESME_RINVCMDID))
        except SMPPError as exc:
            log.warning("smpp_reply_failed", smsc=self.settings.name, error=str(exc))

    async def _deliver(self, conn: SMPPConnection, pdu: DeliverSM) -> None:
        status = consts.SMPP_ESME_RX_T_APPN
        try:
            if self.on_deliver is not None:
                status = await self.on_deliver(self, pdu)
        except Exception as exc:  # the sink failed: the SMSC must deliver again later
            log.error("smpp_deliver_failed", smsc=self.settings.name, error=type(exc).__name__)
            status = consts.SMPP_ESME_RX_T_APPN
        if conn is self._conn and conn.state is not State.CLOSED:
            with contextlib.suppress(SMPPError):
                self._write(conn.send(DeliverSMResp(sequence=pdu.sequence, status=status)))

    # --- submitting ------------------------------------------------------------------

    def _on_response(self, event: ResponseReceived) -> None:
        job = self._inflight.pop(event.pdu.sequence, None)
        if job is None:
            return
        pdu = event.pdu
        message_id = pdu.message_id if isinstance(pdu, SubmitSMResp) else ""
        self._settle(job, pdu.status, message_id)

    def _settle(self, job: _Job, status: int, message_id: str) -> None:
        loop = asyncio.get_running_loop()
        if status == 0:
            self._throttle_streak = 0
            self.stats.submitted += 1
            if not job.future.done():
                job.future.set_result(PartResult(SendOutcome.ACCEPTED, message_id))
        elif status == THROTTLED:
            self.stats.throttled += 1
            self._throttle_streak += 1
            pause = min(
                self.tuning.throttle_pause_max,
                self.tuning.throttle_pause * 2 ** min(self._throttle_streak - 1, 16),
            )
            self._paused_until = max(self._paused_until, loop.time() + pause)
            self._queue.appendleft(job)
        elif status in TEMPORARY_STATUSES:
            job.attempts += 1
            if job.attempts > self.tuning.temporary_retries:
                if not job.future.done():
                    job.future.set_result(PartResult(SendOutcome.RETRY, status=status))
            else:
                loop.call_later(self.tuning.temporary_pause, self._requeue, job)
        elif not job.future.done():
            job.future.set_result(PartResult(SendOutcome.FAILED, status=status))

    def _requeue(self, job: _Job) -> None:
        if job.future.done():
            return
        if self._stopping:
            job.future.set_result(PartResult(SendOutcome.RETRY, status=-1))
            return
        self._queue.appendleft(job)
        self._pump()

    def _pump(self) -> None:
        """Send queued jobs while the window, the rate cap and any pause allow."""
        conn = self._conn
        if (
            conn is None
            or not self._queue
            or conn.state not in (State.BOUND_TX, State.BOUND_TRX)
            or not self._bound.is_set()
        ):
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        if now < self._paused_until:
            self._wake_at(self._paused_until)
            return
        out: list[bytes] = []
        queue = self._queue
        while queue and conn.window_free > 0:
            if queue[0].future.done():
                queue.popleft()
                continue
            wait = self.limiter.reserve(now)
            if wait > 0:
                self._wake_at(now + wait)
                break
            job = queue.popleft()
            sequence = conn.next_sequence()
            try:
                out.append(conn.send(job.pdu, sequence))
            except LocalProtocolError as exc:  # this message cannot be encoded: ours to fix
                log.error("smpp_unsendable", smsc=self.settings.name, error=str(exc))
                job.future.set_result(PartResult(SendOutcome.FAILED, status=-1))
                continue
            self._inflight[sequence] = job
        if out:
            self._write(b"".join(out))

    def _wake_at(self, when: float) -> None:
        timer = self._pump_timer
        if timer is not None and not timer.cancelled() and timer.when() <= when:
            return
        if timer is not None:
            timer.cancel()
        loop = asyncio.get_running_loop()
        self._pump_timer = loop.call_at(when, self._timer_pump)

    def _timer_pump(self) -> None:
        self._pump_timer = None
        self._pump()


def _encode_nack(sequence: int, status: int) -> bytes:
    return codec.encode(GenericNack(sequence=sequence, status=status))
