"""Two workers' SMPP pools, one operator grant: they coordinate only through Redis, and
the SMSC never sees more than the grant in any 1-second window."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import redis.asyncio as aioredis

from gateway.pacing.shared_grant import RedisTPSBudget
from gateway.pacing.sliding_window import BothLimits, RateLimiter
from gateway.smpp.pool import SMPPPool
from gateway.sms.messages import OutboundSMS, SendOutcome
from tests.smpp.smsc_driver import FAST, RecordingSink, Simulator, smsc_settings

GRANT = 30


def batch(worker: str, count: int) -> list[OutboundSMS]:
    return [
        OutboundSMS(f"{worker}-{n}", f"25470{n:07d}", f"alert {worker} {n}", request_receipt=False)
        for n in range(count)
    ]


def busiest_second(times_ms: list[float]) -> int:
    ordered, start, busiest = sorted(times_ms), 0, 0
    for end, at in enumerate(ordered):
        while at - ordered[start] >= 1000.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return busiest


async def test_two_workers_together_stay_within_the_shared_grant(
    smsc: Simulator, redis_url: str
) -> None:
    # Each bind alone may send far more than the grant: only the shared budget holds them.
    settings = smsc_settings(smsc.port, tps=1000.0, shared_tps=float(GRANT))
    tuning = replace(FAST, rate_margin=0.0)
    clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
    pools = [SMPPPool([settings], RecordingSink(), tuning=tuning) for _ in range(2)]
    try:
        for pool, client in zip(pools, clients, strict=True):
            budget = RedisTPSBudget(client, settings.name, settings.shared_tps)
            pool.share_budget(lambda _smsc, budget=budget: budget)
            assert all(isinstance(bind.submits.limiter, BothLimits) for bind in pool.binds)
            await pool.start()
            await asyncio.wait_for(pool.wait_bound(), 10)
        async with asyncio.timeout(40):
            results = await asyncio.gather(
                pools[0].send(batch("a", 45)), pools[1].send(batch("b", 45))
            )
    finally:
        for pool in pools:
            await pool.stop()
        for client in clients:
            await client.aclose()
    assert {r.outcome for rs in results for r in rs} == {SendOutcome.ACCEPTED}
    times = (await smsc.command("submit_times"))["times"]
    assert len(times) == 90
    assert busiest_second(times) <= GRANT
    # 90 at 30/s (less the headroom) need at least two full seconds: the budget did pace.
    assert max(times) - min(times) >= 2000.0


def test_both_limits_spend_a_shared_slot_only_when_the_bind_may_send() -> None:
    class CountingShared:
        def __init__(self) -> None:
            self.spent = 0

        def reserve(self, now: float) -> float:
            self.spent += 1
            return 0.0

    shared = CountingShared()
    limits = BothLimits(RateLimiter(2), shared)
    assert [limits.reserve(0.0) for _ in range(3)] == [0.0, 0.0, limits.own.wait(0.0)]
    assert shared.spent == 2  # the third call was refused by the bind's own cap first
