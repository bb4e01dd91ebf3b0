"""The shared TPS budget: the pure GCRA step, then real Redis with concurrent clients.

The concurrent tests record the moment each client would submit and check every
1-second sliding window against the grant, and that the clients together still get
close to it (no assertion on speed: on throughput shares of one run's own counts).
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis

from gateway.observability.metrics import Metrics
from gateway.pacing.shared_grant import (
    DEFAULT_HEADROOM,
    TPS_BUCKET_KEY_PREFIX,
    BudgetPacer,
    LocalTPSBudget,
    RedisTPSBudget,
    ReservationTooLarge,
    SharedRateLimiter,
    TPSBudgetUnavailable,
    effective_interval,
    reserve_slots,
)
from tests.prod.tps_client import granted_until

ROOT = Path(__file__).resolve().parents[2]
CLIENT_SCRIPT = Path(__file__).with_name("tps_client.py")


def max_in_window(times: list[float], width: float = 1.0) -> int:
    """The most events inside any half-open window [t, t + width)."""
    ordered = sorted(times)
    best, start = 0, 0
    for end, moment in enumerate(ordered):
        while ordered[start] <= moment - width:
            start += 1
        best = max(best, end - start + 1)
    return best


def test_max_in_window_counts_half_open_windows() -> None:
    assert max_in_window([0.0, 0.5, 0.99, 1.0, 1.5]) == 3
    assert max_in_window([0.0, 1.0, 2.0]) == 1
    assert max_in_window([]) == 0


# --- pure core --------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(
    tps=st.integers(min_value=1, max_value=200),
    requests=st.lists(
        st.tuples(st.floats(min_value=0, max_value=0.5), st.integers(min_value=1, max_value=8)),
        min_size=1,
        max_size=300,
    ),
)
def test_gcra_never_puts_more_than_the_grant_in_any_second(
    tps: int, requests: list[tuple[float, int]]
) -> None:
    interval = effective_interval(tps, DEFAULT_HEADROOM)
    tat, now, sends, last_send, last_n = 0.0, 1000.0, [], None, 0
    for gap, wanted in requests:
        n = min(wanted, tps)
        now += gap
        step = reserve_slots(tat, now, interval, n)
        assert step.wait >= 0
        send_at = now + step.wait
        if last_send is not None:
            # each burst keeps n - 1 empty slots on either side
            spacing = (last_n + n - 1) * interval
            assert send_at >= last_send + spacing - 1e-9
            if now <= tat:  # backlogged: no slot left unused
                assert send_at == pytest.approx(last_send + spacing)
        sends.extend([send_at] * n)
        tat, last_send, last_n = step.tat, send_at, n
    assert max_in_window(sends) <= tps


async def test_local_budget_sleeps_the_reserved_time() -> None:
    clock = [100.0]
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)
        clock[0] += seconds

    metrics = Metrics()
    budget = LocalTPSBudget(
        10, smsc="op1", headroom=0.0, metrics=metrics, clock=lambda: clock[0], sleep=fake_sleep
    )
    assert await budget.acquire() == 0
    assert await budget.acquire() == pytest.approx(0.1)
    assert await budget.acquire(3) == pytest.approx(0.3)
    assert slept == pytest.approx([0.1, 0.3])
    assert metrics.tps_wait.labels(smsc="op1")._value.get() == pytest.approx(0.4)


def test_asking_for_more_than_a_second_of_grant_at_once_is_refused() -> None:
    budget = LocalTPSBudget(5)
    with pytest.raises(ReservationTooLarge):
        asyncio.run(budget.reserve(6))
    with pytest.raises(ValueError):
        asyncio.run(budget.reserve(0))


# --- real Redis -------------------------------------------------------------------------


async def draw(url: str, smsc: str, tps: float, end_at: float) -> list[float]:
    redis = Redis.from_url(url)
    try:
        return await granted_until(RedisTPSBudget(redis, smsc, tps), end_at)
    finally:
        await redis.aclose()


def assert_within_grant_and_close(
    per_client: list[list[float]], tps: float, seconds: float
) -> None:
    everything = [moment for times in per_client for moment in times]
    assert max_in_window(everything) <= tps
    # together they use most of the (headroom-reduced) grant; not all of it on a busy
    # machine, where slots that come too late are dropped rather than spent late
    assert len(everything) >= 0.75 * tps * (1 - DEFAULT_HEADROOM) * seconds
    # and the shared queue serves every client, not one
    for times in per_client:
        assert len(times) >= len(everything) / len(per_client) / 3


async def test_four_concurrent_clients_share_one_grant(redis_server: Any) -> None:
    tps, seconds = 20, 2.5
    end_at = time.monotonic() + seconds
    per_client = await asyncio.gather(
        *(draw(redis_server.url, "op1", tps, end_at) for _ in range(4))
    )
    assert_within_grant_and_close(list(per_client), tps, seconds)


@pytest.mark.parametrize("processes", [2, 4])
def test_separate_processes_share_one_grant(redis_server: Any, processes: int) -> None:
    tps, seconds = 30, 2.5
    children = [
        subprocess.Popen(
            [sys.executable, str(CLIENT_SCRIPT), redis_server.url, "op1", str(tps)],
            cwd=ROOT,
            env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for _ in range(processes)
    ]
    for child in children:  # every interpreter started and connected, however slowly
        assert child.stdout is not None
        while (line := child.stdout.readline()) and line.strip() != b"ready":
            pass
        assert line.strip() == b"ready", child.stderr.read().decode() if child.stderr else ""
    start_at = time.monotonic() + 0.2
    window = f"{start_at!r} {start_at + seconds!r}\n".encode()
    for child in children:  # the same window to all, before any is waited for
        assert child.stdin is not None
        child.stdin.write(window)
        child.stdin.flush()
    per_client = []
    for child in children:
        out, err = child.communicate(timeout=30)
        assert child.returncode == 0, err.decode()
        per_client.append(json.loads(out.splitlines()[-1]))  # last line; logs come before
    assert_within_grant_and_close(per_client, tps, seconds)


async def test_budgets_of_two_smscs_are_independent(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        first = RedisTPSBudget(redis, "op1", 1)
        second = RedisTPSBudget(redis, "op2", 1)
        assert await first.reserve() == 0
        assert await second.reserve() == 0
        assert await first.reserve() > 0.5
        keys = sorted(key.decode() for key in await redis.keys("*"))
        assert keys == [TPS_BUCKET_KEY_PREFIX + "op1", TPS_BUCKET_KEY_PREFIX + "op2"]
        # the key expires by itself once its reservations are in the past
        assert 0 < await redis.pttl(TPS_BUCKET_KEY_PREFIX + "op2") <= 3000
    finally:
        await redis.aclose()


async def test_a_batch_reservation_holds_its_slots(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        budget = RedisTPSBudget(redis, "op1", 10, headroom=0.0)
        batch = await budget.reserve(5)
        single = await budget.reserve()
        # the burst of five sits after four empty slots, and four more follow it
        assert batch == pytest.approx(0.4, abs=0.05)
        assert batch + 0.4 < single <= batch + 0.5 + 1e-6
    finally:
        await redis.aclose()


async def test_the_script_is_reloaded_after_a_script_flush(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        budget = RedisTPSBudget(redis, "op1", 100)
        await budget.reserve()
        await redis.script_flush()
        assert await budget.reserve() >= 0
    finally:
        await redis.aclose()


async def test_redis_down_without_fallback_raises_a_clear_error(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    metrics = Metrics()
    try:
        budget = RedisTPSBudget(redis, "op1", 10, metrics=metrics)
        redis_server.stop()
        with pytest.raises(TPSBudgetUnavailable) as caught:
            await budget.acquire()
        assert "op1" in str(caught.value)
        assert str(redis_server.port) not in str(caught.value)
        assert metrics.redis_errors.labels(operation="tps_budget")._value.get() == 1
    finally:
        await redis.aclose()


async def test_redis_down_with_fallback_paces_locally_then_shares_again(
    redis_server: Any,
) -> None:
    redis = Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    try:
        budget = RedisTPSBudget(redis, "op1", 10, headroom=0.0, fallback_workers=2)
        redis_server.stop()
        assert await budget.reserve() == 0
        # alone at half the grant: 5 per second
        assert await budget.reserve() == pytest.approx(0.2, abs=0.05)
        redis_server.start()
        assert await budget.reserve() == 0  # a fresh shared bucket
        assert await redis.exists(TPS_BUCKET_KEY_PREFIX + "op1") == 1
    finally:
        await redis.aclose()


async def test_pacer_feeds_a_synchronous_sender_within_the_grant(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url)
    queue = list(range(30))
    sent: list[float] = []
    refusals = [3]  # the window is full for the first three slots
    emptied = asyncio.Event()

    def send_one() -> bool:
        if refusals[0] > 0:
            refusals[0] -= 1
            return False
        queue.pop()
        sent.append(time.monotonic())
        if not queue:
            emptied.set()
        return True

    try:
        pacer = BudgetPacer(RedisTPSBudget(redis, "op1", 20), send_one, lambda: bool(queue))
        pacer.wake()
        pacer.wake()  # a second wake while running starts nothing new
        async with asyncio.timeout(20):
            await emptied.wait()
        await pacer.stop()
    finally:
        await redis.aclose()
    assert (pacer.sent, pacer.dropped) == (30, 3)
    assert max_in_window(sent) <= 20


async def test_pacer_waits_out_a_redis_outage(redis_server: Any) -> None:
    redis = Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    queue = list(range(5))
    emptied = asyncio.Event()

    def send_one() -> bool:
        queue.pop()
        if not queue:
            emptied.set()
        return True

    try:
        pacer = BudgetPacer(
            RedisTPSBudget(redis, "op1", 50), send_one, lambda: bool(queue), retry_after=0.1
        )
        redis_server.stop()
        pacer.wake()
        await asyncio.sleep(0.5)
        assert len(queue) == 5  # nothing sent without the shared budget
        redis_server.start()
        async with asyncio.timeout(20):
            await emptied.wait()
        await pacer.stop()
    finally:
        await redis.aclose()
    assert pacer.sent == 5


async def drain_like_a_pump(limiter: SharedRateLimiter, messages: int, sent: list[float]) -> None:
    """What SubmitQueue.pump does with RateLimiter.reserve: send at 0, else wait."""
    loop = asyncio.get_running_loop()
    while messages:
        wait = limiter.reserve(loop.time())
        if wait == 0:
            sent.append(time.monotonic())
            messages -= 1
        else:
            await asyncio.sleep(wait)


async def test_shared_limiter_gives_two_sync_queues_one_grant(redis_server: Any) -> None:
    tps = 20
    clients = [Redis.from_url(redis_server.url) for _ in range(2)]
    limiters = [SharedRateLimiter(RedisTPSBudget(client, "op1", tps)) for client in clients]
    sent: list[list[float]] = [[], []]
    try:
        async with asyncio.timeout(30):
            await asyncio.gather(
                *(
                    drain_like_a_pump(limiter, 30, out)
                    for limiter, out in zip(limiters, sent, strict=True)
                )
            )
    finally:
        for limiter in limiters:
            await limiter.close()
        for client in clients:
            await client.aclose()
    everything = sent[0] + sent[1]
    assert len(everything) == 60
    assert max_in_window(everything) <= tps
    # and together they ran close to the grant, not at half of it each
    span = max(everything) - min(everything)
    assert (len(everything) - 1) / span >= 0.75 * tps * (1 - DEFAULT_HEADROOM)


async def test_shared_limiter_sends_nothing_while_redis_is_away(redis_server: Any) -> None:
    client = Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    ready = asyncio.Event()
    limiter = SharedRateLimiter(
        RedisTPSBudget(client, "op1", 50), on_ready=ready.set, retry_after=0.1
    )
    loop = asyncio.get_running_loop()
    try:
        redis_server.stop()
        for _ in range(5):
            assert limiter.reserve(loop.time()) > 0
            await asyncio.sleep(0.1)
        redis_server.start()
        async with asyncio.timeout(10):
            while limiter.reserve(loop.time()) != 0:
                await asyncio.wait_for(ready.wait(), 1.0)
                ready.clear()
    finally:
        await limiter.close()
        await client.aclose()
