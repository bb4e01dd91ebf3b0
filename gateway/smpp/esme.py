"""One bind to one SMSC, over asyncio: connect, bind, keep alive, answer, reconnect.

Around the sans-I/O :class:`SMPPConnection`, this module owns the socket and the
clock; the :class:`SubmitQueue` owns what is sent and when (window, rate cap,
throttling, retries). What the bind adds:

- a lost link is rebuilt with exponential backoff and jitter, one log line per
  attempt; messages that waited longer than ``submit_deadline`` for a link are
  answered RETRY;
- an enquire_link goes out after ``enquire_link_interval`` of silence; no answer
  within ``response_timeout`` (to it or to anything else) means a dead link;
- requests from the SMSC are answered: enquire_link, unbind, deliver_sm (only once
  ``on_deliver`` returned, i.e. after the inbound item is stored) and anything
  undecodable with a generic_nack;
- ``stop()`` unbinds cleanly.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import structlog
from smpplib import consts

from gateway.settings import SMSCSettings
from gateway.smpp import codec
from gateway.smpp.connection import Role, SMPPConnection, State
from gateway.smpp.errors import LinkError, SMPPError, SMPPProtocolError
from gateway.smpp.events import (
    BindRejected,
    Bound,
    Event,
    IdleTimeElapsed,
    InvalidPDUReceived,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    StrayResponseReceived,
    Unbound,
)
from gateway.smpp.pdu import (
    BY_COMMAND_ID,
    PDU,
    RESPONSE_FOR,
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
from gateway.smpp.submits import PartResult, SubmitQueue
from gateway.smpp.tuning import LinkTuning

log = structlog.get_logger(__name__)

_BIND_CLASSES: dict[str, type[BindTransmitter | BindReceiver | BindTransceiver]] = {
    "transmitter": BindTransmitter,
    "receiver": BindReceiver,
    "transceiver": BindTransceiver,
}
_BOUND = (State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX)

DeliverHandler = Callable[["ESMEBind", DeliverSM], Awaitable[int]]

__all__ = ["DeliverHandler", "ESMEBind", "backoff_delay"]


def backoff_delay(attempt: int, tuning: LinkTuning, unit: float) -> float:
    """Seconds before reconnect ``attempt`` (1, 2, ...): doubling from
    ``reconnect_initial`` up to ``reconnect_max``, times a jitter of 0.5-1.5 drawn from
    ``unit`` (0 <= unit < 1) so that many binds do not all knock at once."""
    base = min(tuning.reconnect_max, tuning.reconnect_initial * 2.0 ** min(attempt - 1, 32))
    return base * (0.5 + unit)


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
    last_error: str = ""
    stray_responses: int = 0  # answers to nothing we sent: logged, discarded
    invalid_pdus: int = 0  # well framed, but did not decode: answered with an error
    framing_errors: int = 0  # a command_length we cannot trust: nack, then close


class ESMEBind:
    """One bind; ``submit`` queues a submit_sm and resolves with its outcome."""

    def __init__(
        self,
        settings: SMSCSettings,
        index: int = 0,
        *,
        on_deliver: DeliverHandler | None = None,
        tuning: LinkTuning | None = None,
        clock: Callable[[], float] | None = None,
    ) -> None:
        self.settings = settings
        self.index = index
        self.on_deliver = on_deliver
        self.tuning = tuning or LinkTuning()
        self.stats = _Stats()
        self.submits = SubmitQueue(
            settings.tps, self.tuning, self._write, name=self.name, clock=clock
        )
        self._wire: _Wire | None = None
        self._conn: SMPPConnection | None = None
        self._bind_result: asyncio.Future[int] | None = None
        self._link_down = asyncio.Event()
        self._unbound = asyncio.Event()
        self._bound = asyncio.Event()
        self._stopping = False
        self._run_task: asyncio.Task[None] | None = None
        self._tick_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._down_since: float | None = None
        self._outgoing: list[bytes] = []

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
        return self.submits.queued + self.submits.in_flight

    async def start(self) -> None:
        if self._run_task is None:
            self._run_task = asyncio.create_task(self._run(), name=f"smpp-{self.name}")

    async def wait_bound(self) -> None:
        """Wait until bound (callers bound this with ``asyncio.timeout``)."""
        await self._bound.wait()

    def submit(self, pdu: SubmitSM, *, urgent: bool = False) -> asyncio.Future[PartResult]:
        """Queue ``pdu`` (its sequence is given on sending); the future never raises."""
        return self.submits.submit(pdu, urgent=urgent)

    def status(self) -> dict[str, Any]:
        state = self._conn.state.value if self._conn is not None else State.CLOSED.value
        return {
            "smsc": self.settings.name,
            "bind": self.index,
            "mode": self.settings.bind_mode,
            "state": state,
            "bound": self.is_bound,
            "queued": self.submits.queued,
            "in_flight": self.submits.in_flight,
            "connects": self.stats.connects,
            "reconnects": self.stats.reconnects,
            "submitted": self.submits.submitted,
            "throttled": self.submits.throttled,
            "stray_responses": self.stats.stray_responses,
            "invalid_pdus": self.stats.invalid_pdus,
            "framing_errors": self.stats.framing_errors,
            "responses": dict(self.submits.responses),
            "last_error": self.stats.last_error,
        }

    async def stop(self) -> None:
        """Unbind cleanly (bounded in time), close, and answer every waiting job RETRY."""
        self._stopping = True
        conn = self._conn
        if conn is not None and conn.state in _BOUND:
            with contextlib.suppress(SMPPError):
                self._write(conn.send(Unbind(sequence=conn.next_sequence())))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._unbound.wait(), self.tuning.unbind_timeout)
        if self._wire is not None and self._wire.transport is not None:
            self._wire.transport.close()
        tasks = [t for t in (self._run_task, self._tick_task, *self._tasks) if t is not None]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._teardown()
        self.submits.close()

    # --- the link's life -------------------------------------------------------------

    async def _run(self) -> None:
        attempt = 0
        loop = asyncio.get_running_loop()
        where = {"smsc": self.settings.name, "bind": self.index}
        while not self._stopping:
            try:
                await self._connect_and_bind()
                attempt = 0
                self._down_since = None
                await self._link_down.wait()
                if self._stopping:
                    log.info("smpp_unbound", **where)
                else:
                    log.warning("smpp_link_lost", **where)
            except (OSError, TimeoutError, SMPPError) as exc:
                self.stats.last_error = f"{type(exc).__name__}: {exc or 'timed out'}"
                log.warning(
                    "smpp_connect_failed", attempt=attempt, error=self.stats.last_error, **where
                )
            finally:
                self._teardown()
            if self._stopping:
                return
            now = loop.time()
            if self._down_since is None:
                self._down_since = now
            elif now - self._down_since >= self.tuning.submit_deadline:
                self.submits.fail_queued()
            attempt += 1
            self.stats.reconnects += 1
            delay = backoff_delay(attempt, self.tuning, random.random())
            log.info("smpp_reconnect_scheduled", attempt=attempt, delay=round(delay, 3), **where)
            await asyncio.sleep(delay)

    async def _connect_and_bind(self) -> None:
        loop = asyncio.get_running_loop()
        settings = self.settings
        context = None
        if settings.tls:
            context = self.tuning.ssl_context or ssl.create_default_context()
        self._link_down.clear()
        self._unbound.clear()
        try:
            _transport, wire = await asyncio.wait_for(
                loop.create_connection(
                    lambda: _Wire(self), settings.host, settings.port, ssl=context
                ),
                self.tuning.connect_timeout,
            )
        except TimeoutError:
            raise LinkError(
                f"no TCP connection to {settings.host}:{settings.port} "
                f"within {self.tuning.connect_timeout:g} s"
            ) from None
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
        bind = _BIND_CLASSES[settings.bind_mode](
            sequence=conn.next_sequence(),
            system_id=settings.system_id,
            password=settings.password.reveal(),
            system_type=settings.system_type,
        )
        self._write(conn.send(bind))
        self._tick_task = asyncio.create_task(self._ticker(conn))
        try:
            status = await asyncio.wait_for(self._bind_result, self.tuning.bind_timeout)
        except TimeoutError:
            raise LinkError(
                f"connected, but no {settings.bind_mode} bind_resp within "
                f"{self.tuning.bind_timeout:g} s (wrong port, TLS mismatch, or a silent SMSC?)"
            ) from None
        if status != 0:
            raise LinkError(f"bind refused with status 0x{status:08x}")
        log.info("smpp_bound", smsc=settings.name, bind=self.index, mode=settings.bind_mode)
        self._bound.set()
        self.submits.link_up(conn)

    def _teardown(self) -> None:
        """Forget the link; what was in flight goes back to the head of the queue."""
        self._bound.clear()
        self.submits.link_down()
        self._outgoing.clear()  # bytes meant for the old link never go to the next one
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
            self._bind_result.exception()  # retrieved: nobody waits for it any more

    async def _ticker(self, conn: SMPPConnection) -> None:
        loop = asyncio.get_running_loop()
        while conn is self._conn:
            await asyncio.sleep(self.tuning.tick_interval)
            if conn is self._conn:
                self._handle(conn, conn.tick(loop.time()))

    # --- bytes in and out ------------------------------------------------------------

    def _write(self, data: bytes) -> None:
        """Queue ``data`` for the socket. Everything written in one turn of the event
        loop leaves in one send: many deliver_sm_resp finish in the same turn, and one
        system call each would cost more than the rest of their handling."""
        if self._wire is None:
            return
        if not self._outgoing:
            asyncio.get_running_loop().call_soon(self._flush, self._wire)
        self._outgoing.append(data)

    def _flush(self, wire: _Wire) -> None:
        data = b"".join(self._outgoing)
        self._outgoing.clear()
        if wire is self._wire and wire.transport is not None:
            wire.transport.write(data)

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
            if exc.fatal:
                self.stats.framing_errors += 1
            self._peer_fault(
                "smpp_peer_protocol_error",
                exc.command_id,
                exc.command_status,
                exc.sequence,
                str(exc),
                "generic_nack, then close" if exc.fatal else "close",
            )
            if exc.fatal or not exc.command_id & 0x80000000:
                # SMPP 3.4: an invalid command_length is answered with a generic_nack
                # before the link goes (the stream cannot be read past it).
                self._write(_nack(exc.sequence, exc.command_status))
            self._link_down.set()
            return
        self._handle(conn, conn.events())

    # --- events ----------------------------------------------------------------------

    def _handle(self, conn: SMPPConnection, events: list[Event]) -> None:
        for event in events:
            if isinstance(event, ResponseReceived):
                pdu = event.pdu
                message_id = pdu.message_id if isinstance(pdu, SubmitSMResp) else ""
                status = pdu.status
                if isinstance(pdu, GenericNack) and status == 0:
                    # A nack always means "not taken"; one without a reason is retried.
                    status = consts.SMPP_ESME_RSYSERR
                self.submits.answered(pdu.sequence, status, message_id)
            elif isinstance(event, RequestReceived):
                self._on_request(conn, event.pdu)
            elif isinstance(event, IdleTimeElapsed):
                with contextlib.suppress(SMPPError):
                    self._write(conn.send(EnquireLink(sequence=conn.next_sequence())))
            elif isinstance(event, ResponseTimedOut):
                self.submits.unanswered(event.sequence)
                self.stats.last_error = f"no answer to command 0x{event.command_id:08x}"
                log.warning(
                    "smpp_response_timeout",
                    smsc=self.settings.name,
                    bind=self.index,
                    command_id=f"0x{event.command_id:08x}",
                )
                self._link_down.set()
            elif isinstance(event, InvalidPDUReceived):
                self._on_invalid(conn, event)
            elif isinstance(event, StrayResponseReceived):
                self.stats.stray_responses += 1
                self._peer_fault(
                    "smpp_stray_response",
                    event.command_id,
                    event.status,
                    event.sequence,
                    event.reason,
                    "discarded; the link stays",
                )
            elif isinstance(event, Bound | BindRejected):
                if self._bind_result is not None and not self._bind_result.done():
                    self._bind_result.set_result(0 if isinstance(event, Bound) else event.status)
            elif isinstance(event, Unbound):
                self._unbound.set()
                self._link_down.set()
        self.submits.pump()

    def _peer_fault(
        self, event: str, command_id: int, status: int, sequence: int, reason: str, action: str
    ) -> None:
        """The warning line for a PDU the peer got wrong: its command, status and
        sequence, what was wrong, and what this bind does about it."""
        log.warning(
            event,
            smsc=self.settings.name,
            bind=self.index,
            command_id=f"0x{command_id:08x}",
            command_status=f"0x{status:08x}",
            sequence=sequence,
            reason=reason,
            action=action,
        )

    def _on_invalid(self, conn: SMPPConnection, event: InvalidPDUReceived) -> None:
        self.stats.invalid_pdus += 1
        request = BY_COMMAND_ID.get(event.command_id)
        answer = RESPONSE_FOR.get(request) if request is not None else None
        is_request = not event.command_id & 0x80000000
        self._peer_fault(
            "smpp_invalid_pdu",
            event.command_id,
            event.status,
            event.sequence,
            event.reason,
            (f"{answer.__name__} with the error" if answer else "generic_nack")
            if is_request
            else "treated as a temporary failure",
        )
        if is_request and answer is not None:
            # A well-framed request of a known command (a deliver_sm with a bad TLV,
            # say) gets its own response carrying the error, not a generic_nack.
            with contextlib.suppress(SMPPError):
                self._write(conn.send(answer(sequence=event.sequence, status=event.status)))
        elif is_request:
            self._write(_nack(event.sequence, event.status))
        elif event.request_command_id is not None:
            # An answer we cannot read: treat the message as a temporary failure.
            self.submits.answered(event.sequence, consts.SMPP_ESME_RSYSERR, "")

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
                # rather than acknowledge it and lose it.
                refusal = DataSMResp(sequence=pdu.sequence, status=consts.SMPP_ESME_RINVCMDID)
                self._write(conn.send(refusal))
            else:
                self._write(_nack(pdu.sequence, consts.SMPP_ESME_RINVCMDID))
        except SMPPError as exc:
            log.warning("smpp_reply_failed", smsc=self.settings.name, error=str(exc))

    async def _deliver(self, conn: SMPPConnection, pdu: DeliverSM) -> None:
        status = int(consts.SMPP_ESME_RX_T_APPN)
        try:
            if self.on_deliver is not None:
                status = await self.on_deliver(self, pdu)
        except Exception as exc:  # the sink failed: the SMSC must deliver it again later
            log.error("smpp_deliver_failed", smsc=self.settings.name, error=type(exc).__name__)
            status = int(consts.SMPP_ESME_RX_T_APPN)
        if conn is self._conn and conn.state is not State.CLOSED:
            with contextlib.suppress(SMPPError):
                self._write(conn.send(DeliverSMResp(sequence=pdu.sequence, status=status)))


def _nack(sequence: int, status: int) -> bytes:
    return codec.encode(GenericNack(sequence=sequence, status=status))
