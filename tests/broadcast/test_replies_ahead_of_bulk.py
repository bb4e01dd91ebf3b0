"""A JOIN reply overtakes a broadcast that saturates the same bind (node-smpp).

The broadcast worker hands the bind far more than its 100 TPS cap can send at once,
so a backlog of hundreds waits in the bind's queue. The reply to a JOIN sent in the
middle of it must not wait behind that backlog: it takes the next window and rate
slot. (How long that is in seconds is a benchmark figure: bench/reply_priority.py.)
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from gateway.sms import encoding
from tests.broadcast.conftest import Rig, seed
from tests.smpp.smsc_driver import Simulator, eventually, smsc_settings

pytestmark = pytest.mark.slow

TPS = 100.0
JOINER = "254733000999"  # a test number, not one of the seeded audience


def submits(record: Path) -> list[dict[str, object]]:
    lines = record.read_text().splitlines() if record.exists() else []
    return [json.loads(line) for line in lines]


async def test_a_join_reply_overtakes_a_saturating_broadcast(pool_rig: Rig, tmp_path: Path) -> None:
    seed(pool_rig, 1200)
    record = tmp_path / "submits.jsonl"
    smsc = await Simulator.start(record=record)
    await smsc.configure(dlr=False, record_bodies=False)
    smscs = [smsc_settings(smsc.port, tps=TPS, window=10)]
    async with pool_rig.bound_pool(smscs, stop_after=[smsc]) as pool:
        pool_rig.inbox.replies = pool
        sending = asyncio.create_task(pool_rig.broadcast(pool, tps=2000.0))
        try:
            await eventually(lambda: len(submits(record)) >= 150, within=60)
            backlog = pool.status()[0]["queued"]
            (answer,) = (
                await smsc.command(
                    "mo",
                    pdus=[
                        {
                            "source": JOINER,
                            "dest": "3030",
                            "hex": encoding.encode_gsm7("JOIN hotlines").hex(),
                        }
                    ],
                )
            )["results"]
            await eventually(lambda: any(s["dest"] == JOINER for s in submits(record)), within=60)
            sent = submits(record)
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
    assert answer["status"] == 0
    times = [(str(s["dest"]), float(str(s["t"]))) for s in sent]
    reply_at = next(t for dest, t in times if dest == JOINER)
    overtaken = sum(1 for _, t in times if answer["at"] < t < reply_at)
    assert backlog >= 100  # a second of the broadcast was waiting in the bind's queue
    # Behind the backlog the reply would follow hundreds of broadcast submits; ahead of
    # it, only those sent while the MO was being stored and answered.
    assert overtaken < backlog / 2, (overtaken, backlog)
