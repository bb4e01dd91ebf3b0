"""A separate process drawing on the shared TPS budget; prints its send times as JSON.

Usage: python tps_client.py REDIS_URL SMSC TPS START_AT END_AT
START_AT and END_AT are ``time.monotonic()`` values: CLOCK_MONOTONIC is one clock for
every process on the machine, so the parent can merge the timestamps of all children.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time

from redis.asyncio import Redis

from gateway.pacing.shared_grant import RedisTPSBudget


async def main(url: str, smsc: str, tps: float, start_at: float, end_at: float) -> list[float]:
    redis = Redis.from_url(url)
    budget = RedisTPSBudget(redis, smsc, tps)
    sent: list[float] = []
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    try:
        while True:
            await budget.acquire()
            now = time.monotonic()
            if now >= end_at:
                return sent
            sent.append(now)
    finally:
        await redis.aclose()


if __name__ == "__main__":
    url, smsc, tps, start_at, end_at = sys.argv[1:6]
    times = asyncio.run(main(url, smsc, float(tps), float(start_at), float(end_at)))
    print(json.dumps(times))
