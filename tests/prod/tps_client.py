"""A separate process drawing on the shared TPS budget; prints its send times as JSON.

Usage: python tps_client.py REDIS_URL SMSC TPS
Once imported and connected it prints ``ready`` and reads one line from stdin:
``START_AT END_AT``, two ``time.monotonic()`` values (CLOCK_MONOTONIC is one clock for
every process on the machine, so the parent can merge the timestamps of all children).
The parent sends that line only when every child is ready, so a slow interpreter start
on a busy machine never eats the window.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from redis.asyncio import Redis

from gateway.pacing.shared_grant import RedisTPSBudget


async def granted_until(budget: RedisTPSBudget, end_at: float) -> list[float]:
    """Draw on ``budget`` one send at a time until ``end_at`` (``time.monotonic()``);
    the moment of each send granted before then."""
    sent: list[float] = []
    while True:
        await budget.acquire()
        now = time.monotonic()
        if now >= end_at:
            return sent
        sent.append(now)


async def main(url: str, smsc: str, tps: float) -> list[float]:
    redis = Redis.from_url(url)
    budget = RedisTPSBudget(redis, smsc, tps)
    await redis.ping()
    print("ready", flush=True)
    start_at, end_at = (float(value) for value in sys.stdin.readline().split())
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    try:
        return await granted_until(budget, end_at)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    url, smsc, tps = sys.argv[1:4]
    times = asyncio.run(main(url, smsc, float(tps)))
    print(json.dumps(times))
