"""The broadcast sender: turns an alert in state ``sending`` into SMS, durably.

For each sending alert, two loops share the store:

* expansion appends the audience to the outbox in batches (one transaction each,
  memory bounded by the batch), resuming from a cursor after a restart;
* fan-out claims queued rows under a lease, re-checks opt-outs and the expiry right
  before each submit, opens the numbers (only in memory), submits through the
  :class:`gateway.sms.messages.SMSSender` at the configured rate, and records each outcome.

Fan-out starts as soon as the first expansion batch is committed, so the first SMS
leaves while a million-row audience is still being expanded.

Crash safety: a row is claimed before it is submitted and recorded after. A worker
killed in between leaves ``claimed`` rows whose lease runs out; they are submitted
again. Delivery is therefore at-least-once, with duplicates bounded by the rows in
flight (``batch_size`` x ``concurrency``): exactly-once is impossible because the
channel may have accepted a message whose answer we never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog

from gateway.broadcast.states import BroadcastEvent, BroadcastState, transition
from gateway.broadcast.text import compose, text_for
from gateway.pacing.token_bucket import TokenBucket
from gateway.privacy.numbers import DecryptionError, NumberVault
from gateway.sms.messages import OutboundSMS, SendOutcome, SendResult, SMSSender
from gateway.store.port import Store
from gateway.store.records import Broadcast, ClaimedMessage, OutboxState, Submission

log = structlog.get_logger(__name__)

_NO_ATTEMPT_LIMIT = 2**31 - 1  # fits a 32-bit INTEGER column (PostgreSQL)


@dataclass(frozen=True)
class WorkerOptions:
    channel: str  # the channel family the message ids belong to: africastalking | smpp
    tps: float
    sms_prefix: str
    batch_size: int = 100
    concurrency: int = 4
    expansion_batch: int = 5000
    lease_seconds: float = 60.0
    max_attempts: int = 5  # per message, for temporary errors of that message alone
    backoff_initial: float = 0.5  # pause after a batch the channel refused for now
    backoff_max: float = 30.0
    poll_interval: float = 1.0
    # (id scope, seconds): a row submitted that long ago with no receipt ends
    # ``unknown``. One per SMSC (scope = its name); scope "" covers every row.
    receipt_timeouts: tuple[tuple[str, float], ...] = (("", 172_800.0),)
    receipt_sweep_interval: float = 30.0
    # A broadcast's service (store key) -> the number its SMS go out from ("" the
    # channel's configured sender: the default service, and any service without one).
    sender_of: Callable[[str], str] = field(default=lambda service: "")


class BroadcastWorker:
    def __init__(
        self,
        store: Store,
        sender: SMSSender,
        vault: NumberVault,
        options: WorkerOptions,
        clock: Callable[[], float] = time.time,
        worker_id: str | None = None,
    ) -> None:
        self._store = store
        self._sender = sender
        self._vault = vault
        self._options = options
        self._clock = clock
        self.worker_id = worker_id or f"worker-{uuid.uuid4().hex[:12]}"
        burst = max(1, min(options.batch_size, options.tps))
        self._bucket = TokenBucket(options.tps, burst, clock())
        self._first_submit_at: float | None = None
        self._started: dict[int, float] = {}
        self._next_sweep = 0.0

    @property
    def first_submit_at(self) -> float | None:
        return self._first_submit_at

    async def run(self, until_idle: bool = False, stop: asyncio.Event | None = None) -> None:
        """Serve every alert in ``sending``; with ``until_idle``, return when none is left."""
        stop = stop or asyncio.Event()
        running: dict[int, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                for broadcast in await self._store.list_broadcasts([BroadcastState.SENDING]):
                    if broadcast.id not in running or running[broadcast.id].done():
                        running[broadcast.id] = asyncio.create_task(
                            self.run_broadcast(broadcast.id)
                        )
                await self._sweep_unconfirmed()
                for broadcast_id, task in list(running.items()):
                    if task.done():
                        del running[broadcast_id]
                        task.result()  # a store failure stops the worker loudly
                if until_idle and not running:
                    return
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), self._options.poll_interval)
        finally:
            for task in running.values():
                task.cancel()
            await asyncio.gather(*running.values(), return_exceptions=True)

    async def run_broadcast(self, broadcast_id: int) -> None:
        log.info("broadcast.worker_start", broadcast=broadcast_id, worker=self.worker_id)
        self._started.setdefault(broadcast_id, time.monotonic())
        expansion = asyncio.create_task(self._expand(broadcast_id))
        try:
            await self._fan_out(broadcast_id, expansion)
        finally:
            expansion.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await expansion

    async def _expand(self, broadcast_id: int) -> None:
        while True:
            broadcast = await self._store.get_broadcast(broadcast_id)
            if broadcast is None or broadcast.expansion_done:
                return
            if broadcast.state != BroadcastState.SENDING:
                return
            await self._store.expand_audience(
                broadcast_id, self._options.expansion_batch, self._clock()
            )
            await asyncio.sleep(0)  # let fan-out claim between batches

    async def _fan_out(self, broadcast_id: int, expansion: asyncio.Task[None]) -> None:
        options = self._options
        in_flight: set[asyncio.Task[int]] = set()
        retry_delay = 0.0
        try:
            while True:
                broadcast = await self._store.get_broadcast(broadcast_id)
                if broadcast is None or broadcast.state != BroadcastState.SENDING:
                    return  # paused or cancelled: rows stay queued / leases run out
                now = self._clock()
                if now >= broadcast.expires_at:
                    await asyncio.gather(*in_flight, return_exceptions=True)
                    await self._close(broadcast, BroadcastEvent.EXPIRE, self._clock())
                    return
                while len(in_flight) >= options.concurrency:
                    done, in_flight = await asyncio.wait(
                        in_flight, return_when=asyncio.FIRST_COMPLETED
                    )
                    retry_delay = _next_retry_delay(
                        retry_delay, [task.result() for task in done], options
                    )
                if retry_delay:
                    await asyncio.sleep(retry_delay)
                wait = self._bucket.wait_for(options.batch_size, self._clock())
                if wait > 0:
                    await asyncio.sleep(wait)
                want = max(1, min(options.batch_size, self._bucket.available(self._clock())))
                claimed = await self._store.claim_outbox(
                    broadcast_id, self.worker_id, want, self._clock(), options.lease_seconds
                )
                if not claimed:
                    if in_flight:
                        done, in_flight = await asyncio.wait(
                            in_flight, return_when=asyncio.FIRST_COMPLETED
                        )
                        continue
                    if expansion.done():
                        expansion.result()
                        if await self._finished(broadcast_id):
                            return
                        # Rows under another (perhaps dead) worker's lease: wait for it.
                        await asyncio.sleep(min(1.0, options.poll_interval))
                        continue
                    await asyncio.sleep(0.02)  # the next expansion batch is coming
                    continue
                self._bucket.take(len(claimed), self._clock())
                in_flight.add(asyncio.create_task(self._submit(broadcast, claimed)))
        finally:
            if in_flight:
                await asyncio.gather(*in_flight, return_exceptions=True)

    async def _finished(self, broadcast_id: int) -> bool:
        broadcast = await self._store.get_broadcast(broadcast_id)
        if broadcast is None or not broadcast.expansion_done:
            return False
        counts = await self._store.outbox_counts(broadcast_id)
        if counts.pending:
            return False  # rows under another worker's lease, or retries
        await self._close(broadcast, BroadcastEvent.FINISH, self._clock())
        return True

    async def _close(self, broadcast: Broadcast, event: BroadcastEvent, now: float) -> None:
        target = transition(BroadcastState(broadcast.state), event)
        expired = 0
        if event is BroadcastEvent.EXPIRE:
            expired = await self._store.close_pending(
                broadcast.id, OutboxState.EXPIRED, now, include_submitted=False
            )
        await self._store.set_broadcast_state(broadcast.id, broadcast.state, target.value, now)
        counts = await self._store.outbox_counts(broadcast.id)
        log.info(
            "broadcast.closed",
            broadcast=broadcast.id,
            trigger=event.value,
            closed_as_expired=expired,
            counts=dict(counts.counts),
        )

    async def _submit(self, broadcast: Broadcast, claimed: list[ClaimedMessage]) -> int:
        """Send one claimed batch; returns how many came back as temporary failures."""
        options = self._options
        now = self._clock()
        if now >= broadcast.expires_at:
            return 0  # never sent: the expiry closes these rows
        withdrawn = await self._store.withdraw_opted_out([c.outbox_id for c in claimed], now)
        if self._clock() >= broadcast.expires_at:
            # It expired while the withdrawal waited for the store's write lock (another
            # writer, up to the busy timeout): still never sent.
            return 0
        sender = options.sender_of(broadcast.audience.service)
        messages: list[OutboundSMS] = []
        undecryptable: list[Submission] = []
        for row in claimed:
            if row.outbox_id in withdrawn:
                continue
            try:
                number = self._vault.open(row.msisdn_sealed)
            except DecryptionError:
                undecryptable.append(Submission(row.outbox_id, "failed", (), "undecryptable"))
                continue
            body = text_for(broadcast.texts, row.language, broadcast.fallback_language)
            messages.append(
                OutboundSMS(
                    str(row.outbox_id),
                    number,
                    compose(options.sms_prefix, body),
                    sender=sender,
                    valid_until=broadcast.expires_at,
                )
            )
        results: list[SendResult] = []
        if messages:
            if self._first_submit_at is None:
                self._first_submit_at = time.monotonic()
                started = self._started.get(broadcast.id, self._first_submit_at)
                log.info(
                    "broadcast.first_submit",
                    broadcast=broadcast.id,
                    after_ms=round((self._first_submit_at - started) * 1000),
                )
            try:
                results = await self._sender.send(messages)
            except Exception as exc:  # a channel bug must not strand the claimed rows
                log.error("broadcast.send_failed", error=type(exc).__name__, count=len(messages))
                results = [
                    SendResult(m.reference, SendOutcome.RETRY, (), "send raised") for m in messages
                ]
        submissions = [
            Submission(int(r.reference), r.outcome.value, r.message_ids, r.error, r.channel)
            for r in results
        ] + undecryptable
        # A batch refused as a whole is the channel's outage, not these messages' fault:
        # it spends no attempts, so an outage cannot fail rows; the expiry bounds it.
        outage = bool(results) and all(r.outcome is SendOutcome.RETRY for r in results)
        await self._store.record_submissions(
            options.channel,
            submissions,
            self._clock(),
            _NO_ATTEMPT_LIMIT if outage else options.max_attempts,
        )
        retries = sum(1 for r in results if r.outcome is SendOutcome.RETRY)
        log.debug(
            "broadcast.batch",
            broadcast=broadcast.id,
            sent=len(messages),
            withdrawn=len(withdrawn),
            retries=retries,
        )
        return retries

    async def _sweep_unconfirmed(self) -> None:
        """Rows whose receipt did not come within their SMSC's receipt timeout end
        ``unknown``: not delivered (nobody confirmed it), not expired (it was sent)."""
        now = self._clock()
        if now < self._next_sweep:
            return
        self._next_sweep = now + self._options.receipt_sweep_interval
        recent = await self._store.list_broadcasts(
            [BroadcastState.SENDING, BroadcastState.PAUSED, BroadcastState.DONE], limit=50
        )
        for broadcast in recent:
            for scope, timeout in self._options.receipt_timeouts:
                closed = await self._store.close_unconfirmed(
                    broadcast.id, scope, now - timeout, now
                )
                if closed:
                    log.info(
                        "broadcast.receipts_timed_out",
                        broadcast=broadcast.id,
                        smsc=scope or "any",
                        closed_as_unknown=closed,
                    )


def _next_retry_delay(current: float, retries: list[int], options: WorkerOptions) -> float:
    """Back off while whole batches come back as temporary failures."""
    if retries and all(count > 0 for count in retries):
        return min(options.backoff_max, max(options.backoff_initial, current * 2))
    return 0.0
