"""The operator's TPS grant, shared by every worker: a token bucket kept in Redis.

An operator grants an account so many submits per second *in total*. With several
gateway workers each holding binds to the same SMSC, each worker pacing itself would let
N workers send N times the grant. So the budget lives in Redis, under one key per SMSC,
and one Lua script reserves send slots atomically for everybody. The script reads the
time with Redis ``TIME``: the workers' clocks never enter into it.

The algorithm is the generic cell rate algorithm (GCRA), a token bucket that stores a
single number, the *theoretical arrival time* (TAT) of the next free slot, one slot per
``interval = 1 / effective_tps``:

    tat      = max(stored_tat, now)
    send_at  = tat + (n - 1) * interval    # the batch sits in the middle ...
    new_tat  = tat + (2n - 1) * interval   # ... of 2n - 1 slots
    wait     = send_at - now               # >= 0

For the usual call, ``n = 1``, that is one slot per PDU: call :meth:`acquire` before
each ``submit_sm`` (each part of a long message is its own submit). A batch of ``n``
PDUs sent together is a burst, and a burst fits the operator's count of *every* 1-second
window only if ``n - 1`` slots stay empty on each side of it, so a batch costs
``2n - 1`` slots. Every reservation is granted at once with its own wait (a queue, not a
retry loop), so waiting senders are served in order and Redis sees one round trip per
submit.

Headroom and late slots: the reservation happens in Redis time, the submit a moment
later on the worker. A worker that wakes up late (a busy event loop, a starved CPU)
would send late and bunch with the next sender. So the bucket runs a few percent under
the grant (``headroom``, 5 % by default), and :meth:`acquire` never spends a slot late:
if it wakes more than ``0.8 * headroom`` seconds after its slot, it drops the slot and
reserves again. (On the worker's clock the slot lies between "asked + wait" and
"answered + wait": it sleeps to the later bound, so it is never early, and judges
lateness from the earlier one, so lateness is never missed.)
Every send then lies within that tolerance of its slot, and with slots spaced
``1 / (tps * (1 - headroom))`` apart no 1-second window holds more than the grant.

Failure: if Redis cannot be reached, :class:`RedisTPSBudget` either raises
:class:`TPSBudgetUnavailable` or, given ``fallback_workers``, paces this worker alone at
``1 / fallback_workers`` of the grant until Redis answers again, so the total stays
within the grant as long as at most that many workers run.

Errors::

    TPSBudgetError
    ├── TPSBudgetUnavailable   Redis failed and no fallback was configured
    └── ReservationTooLarge    n larger than one second's grant
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from redis import exceptions as redis_errors
from redis.asyncio import Redis

from gateway.errors import GatewayError
from gateway.observability.metrics import Metrics

log = structlog.get_logger(__name__)

# One key per SMSC, named by the SMSC's configured name (never a phone number).
TPS_BUCKET_KEY_PREFIX = "gw:tps:"
DEFAULT_HEADROOM = 0.05
MICROSECONDS = 1_000_000

# KEYS[1] bucket key; ARGV[1] interval in microseconds; ARGV[2] slots wanted.
# Returns the wait in whole microseconds. TIME is allowed in scripts since Redis 5
# (scripts replicate their effects, not their source).
_RESERVE_SCRIPT = """
local interval = tonumber(ARGV[1])
local wanted = tonumber(ARGV[2])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
    tat = now
end
local send_at = tat + (wanted - 1) * interval
local new_tat = tat + (2 * wanted - 1) * interval
local ttl_ms = math.ceil((new_tat - now) / 1000) + 1000
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', ttl_ms)
return math.floor(send_at - now)
"""


class TPSBudgetError(GatewayError):
    """Base of this module's errors."""


class TPSBudgetUnavailable(TPSBudgetError):
    """Redis could not be reached and no local fallback was configured."""


class ReservationTooLarge(TPSBudgetError, ValueError):
    """More slots asked for at once than the grant allows in one second."""


class TPSBudget(Protocol):
    """What a sender needs: call ``acquire(n)`` right before submitting ``n`` PDUs."""

    async def reserve(self, n: int = 1) -> float: ...

    async def acquire(self, n: int = 1) -> float: ...


@dataclass
class Reservation:
    """The pure GCRA step: the new theoretical arrival time and the wait, in one unit."""

    tat: float
    wait: float


def reserve_slots(stored_tat: float, now: float, interval: float, n: int) -> Reservation:
    """Reserve a burst of ``n`` sends; the same arithmetic as the Lua script."""
    tat = max(stored_tat, now)
    send_at = tat + (n - 1) * interval
    return Reservation(tat=tat + (2 * n - 1) * interval, wait=send_at - now)


def effective_interval(tps: float, headroom: float) -> float:
    """Seconds between two slots once the headroom is taken off the grant."""
    if tps <= 0:
        raise ValueError("tps must be positive")
    if not 0 <= headroom < 1:
        raise ValueError("headroom must be in [0, 1)")
    return 1.0 / (tps * (1.0 - headroom))


def max_slots(tps: float) -> int:
    return max(1, math.floor(tps))


Sleep = Callable[[float], Awaitable[Any]]


class LocalTPSBudget:
    """The same bucket in process memory: one worker alone, or Redis's stand-in."""

    def __init__(
        self,
        tps: float,
        *,
        smsc: str = "",
        headroom: float = DEFAULT_HEADROOM,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        self.smsc = smsc
        self.tps = tps
        self._interval = effective_interval(tps, headroom)
        self._late_tolerance = late_tolerance(headroom)
        self._tat = 0.0
        self._metrics = metrics
        self._clock = clock
        self._sleep = sleep

    async def reserve(self, n: int = 1) -> float:
        _check_size(n, self.tps)
        step = reserve_slots(self._tat, self._clock(), self._interval, n)
        self._tat = step.tat
        return step.wait

    async def acquire(self, n: int = 1) -> float:
        return await _take(self, n, self._late_tolerance, self._clock, self._sleep, self._metrics)


class RedisTPSBudget:
    """The bucket for one SMSC, shared by every worker through one Redis key."""

    def __init__(
        self,
        redis: Redis,
        smsc: str,
        tps: float,
        *,
        headroom: float = DEFAULT_HEADROOM,
        fallback_workers: int | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Sleep = asyncio.sleep,
    ) -> None:
        if not smsc:
            raise ValueError("an SMSC name is needed to key its budget")
        self.smsc = smsc
        self.tps = tps
        self.key = TPS_BUCKET_KEY_PREFIX + smsc
        self._interval_us = effective_interval(tps, headroom) * MICROSECONDS
        self._late_tolerance = late_tolerance(headroom)
        self._clock = clock
        self._script = redis.register_script(_RESERVE_SCRIPT)
        self._metrics = metrics
        self._sleep = sleep
        self._fallback: LocalTPSBudget | None = None
        if fallback_workers is not None:
            if fallback_workers < 1:
                raise ValueError("fallback_workers must be at least 1")
            self._fallback = LocalTPSBudget(
                tps / fallback_workers, smsc=smsc, headroom=headroom, metrics=metrics, sleep=sleep
            )
        self._degraded = False

    async def reserve(self, n: int = 1) -> float:
        """Reserve ``n`` slots; returns the seconds to wait before sending them."""
        _check_size(n, self.tps)
        try:
            wait_us = await self._script(keys=[self.key], args=[repr(self._interval_us), n])
        except (redis_errors.RedisError, OSError) as exc:
            return await self._redis_failed(n, exc)
        if self._degraded:
            self._degraded = False
            log.info("tps_budget_shared_again", smsc=self.smsc)
        return max(0, int(wait_us)) / MICROSECONDS

    async def acquire(self, n: int = 1) -> float:
        """Wait for a slot for ``n`` PDUs sent together; returns the seconds waited.
        Send right after it returns."""
        return await _take(self, n, self._late_tolerance, self._clock, self._sleep, self._metrics)

    async def _redis_failed(self, n: int, exc: Exception) -> float:
        if self._metrics is not None:
            self._metrics.redis_error("tps_budget")
        if self._fallback is None:
            raise TPSBudgetUnavailable(
                f"TPS budget for {self.smsc} unavailable: {type(exc).__name__}"
            ) from exc
        if not self._degraded:
            self._degraded = True
            log.warning(
                "tps_budget_local_fallback",
                smsc=self.smsc,
                error=type(exc).__name__,
                local_tps=self._fallback.tps,
            )
        return await self._fallback.reserve(n)


def _check_size(n: int, tps: float) -> None:
    if n < 1:
        raise ValueError("n must be at least 1")
    if n > max_slots(tps):
        raise ReservationTooLarge(
            f"cannot send {n} PDUs at once under a grant of {tps:g} per second"
        )


def late_tolerance(headroom: float) -> float:
    """Seconds a slot may be spent after its time (see the module docstring)."""
    return max(0.8 * headroom, 0.001)


class _Reserving(Protocol):
    smsc: str

    async def reserve(self, n: int = 1) -> float: ...


async def _take(
    budget: _Reserving,
    n: int,
    tolerance: float,
    clock: Callable[[], float],
    sleep: Sleep,
    metrics: Metrics | None,
) -> float:
    started = clock()
    while True:
        # The slot lies between asked + wait and answered + wait on our clock: sleep to
        # the later bound (never early), judge lateness from the earlier (never missed).
        asked = clock()
        wait = await budget.reserve(n)
        answered = clock()
        if wait > 0:
            if metrics is not None:
                metrics.waited_for_budget(budget.smsc, wait)
            await sleep(max(0.0, answered + wait - clock()))
        if clock() - (asked + wait) <= tolerance:
            return clock() - started
        # Woke too late: spending this slot now would bunch with the next sender's.
        if metrics is not None:
            metrics.throttled(budget.smsc, source="late_slot")
        log.debug("tps_slot_dropped_late", smsc=budget.smsc, late=round(clock() - asked - wait, 4))


class BudgetPacer:
    """Drives a synchronous sender (an SMPP submit queue) from an async budget.

    While ``has_work()`` holds, it takes one slot at a time from ``budget`` and, the
    moment the slot comes, calls ``send_one()``, which sends one PDU and returns True, or
    returns False when it cannot send now (window full, link down). An unused slot is
    dropped, never kept: a kept slot spent later would bunch with the next one and break
    the 1-second count. Call :meth:`wake` whenever work arrives or the window frees up.
    """

    def __init__(
        self,
        budget: TPSBudget,
        send_one: Callable[[], bool],
        has_work: Callable[[], bool],
        *,
        retry_after: float = 0.5,
    ) -> None:
        self._budget = budget
        self._send_one = send_one
        self._has_work = has_work
        self._retry_after = retry_after
        self._task: asyncio.Task[None] | None = None
        self.sent = 0
        self.dropped = 0

    def wake(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        while self._has_work():
            try:
                await self._budget.acquire()
            except TPSBudgetUnavailable:
                log.warning("tps_budget_unavailable_pausing", seconds=self._retry_after)
                await asyncio.sleep(self._retry_after)
                continue
            if self._send_one():
                self.sent += 1
            else:
                self.dropped += 1

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class SharedRateLimiter:
    """The synchronous ``reserve(now) -> wait`` of
    :class:`gateway.pacing.sliding_window.RateLimiter`, drawing on a shared budget: a
    drop-in for a submit queue's pump.

    ``reserve(now)`` answers 0.0 when a slot granted by the budget is due now (and
    counts it spent), else the seconds to wait before asking again. One reservation is
    kept in flight ahead of time, so a busy queue loses no round trip between slots; a
    slot not spent within the late tolerance is dropped, as in :meth:`RedisTPSBudget.acquire`.
    ``on_ready`` (the queue's pump) is called when a new slot has been granted.
    """

    def __init__(
        self,
        budget: TPSBudget,
        *,
        headroom: float = DEFAULT_HEADROOM,
        on_ready: Callable[[], None] | None = None,
        poll: float = 0.005,
        retry_after: float = 0.5,
        metrics: Metrics | None = None,
        smsc: str = "",
    ) -> None:
        self._budget = budget
        self._tolerance = late_tolerance(headroom)
        self.on_ready = on_ready
        self._poll = poll
        self._retry_after = retry_after
        self._metrics = metrics
        self._smsc = smsc
        self._earliest: float | None = None  # the slot, on the loop's clock, lower bound
        self._latest = 0.0  # upper bound: never send before it
        self._retry_at = 0.0
        self._task: asyncio.Task[None] | None = None

    def reserve(self, now: float) -> float:
        if self._earliest is None:
            self._fetch(now)
            return max(self._poll, self._retry_at - now)
        if now < self._latest:
            return self._latest - now
        late = now - self._earliest > self._tolerance
        self._earliest = None
        self._fetch(now)  # the next slot, ahead of time
        if late:
            if self._metrics is not None:
                self._metrics.throttled(self._smsc, source="late_slot")
            return self._poll
        return 0.0

    def _fetch(self, now: float) -> None:
        if now < self._retry_at or (self._task is not None and not self._task.done()):
            return
        self._task = asyncio.get_running_loop().create_task(self._get())

    async def _get(self) -> None:
        loop = asyncio.get_running_loop()
        asked = loop.time()
        try:
            wait = await self._budget.reserve(1)
        except TPSBudgetUnavailable:
            self._retry_at = loop.time() + self._retry_after
            log.warning("tps_budget_unavailable_pausing", seconds=self._retry_after)
            return
        answered = loop.time()
        self._earliest, self._latest = asked + wait, answered + wait
        if self.on_ready is not None:
            self.on_ready()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
