"""Failover: the first SMSC of a route is killed mid-broadcast; the second carries the
rest. Every row ends final, nobody is lost, and nothing one SMSC accepted is sent
again by the other (node-smpp, two simulators)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests.broadcast.test_receipt_matching import Rig, seed
from tests.smpp.smsc_driver import Simulator, eventually, smsc_settings

pytestmark = pytest.mark.slow


@pytest.fixture
async def rig(tmp_path: Path) -> Rig:
    made = Rig(tmp_path)
    await made.open()
    yield made  # type: ignore[misc]
    await made.close()


def accepted(record: Path) -> list[str]:
    lines = record.read_text().splitlines() if record.exists() else []
    return ["+" + str(json.loads(line)["dest"]) for line in lines]


async def test_killing_the_first_smsc_mid_broadcast_fails_over_to_the_second(
    rig: Rig, tmp_path: Path
) -> None:
    total = 1500
    numbers = seed(rig, total)
    first_record, second_record = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first = await Simulator.start(record=first_record)
    second = await Simulator.start(record=second_record)
    for smsc in (first, second):
        await smsc.configure(dlr=True, record_bodies=False)
    pool = rig.pool(
        [
            # Receipts the dead SMSC still owed never come: those rows end "unknown".
            smsc_settings(first.port, name="first", routes=("+2547",), receipt_timeout=2.0),
            smsc_settings(second.port, name="second", routes=("+2547",), tps=2000.0),
        ]
    )
    await pool.start()
    try:
        await asyncio.wait_for(pool.wait_bound(), 30)
        sending = asyncio.create_task(rig.broadcast(pool, tps=1500.0))
        await eventually(lambda: len(accepted(first_record)) >= 300, within=60)
        await first.kill()
        await asyncio.wait_for(sending, 120)
        alert = sending.result()
        counts = await rig.wait_final(alert, total)
        routes = pool.route_status()
    finally:
        await pool.stop()
        await second.stop()
        await first.stop()
    by_first, by_second = accepted(first_record), accepted(second_record)
    assert set(by_first) | set(by_second) == set(numbers)  # nobody lost
    assert len(by_second) > 0 and len(by_first) >= 300
    # A message in flight when the first died may be sent again (at-least-once, at most
    # its window); one the first acknowledged is never re-routed.
    assert len(set(by_first) & set(by_second)) <= 10
    assert sum(counts.values()) == total and set(counts) <= {"delivered", "unknown"}
    (route,) = routes
    second_counts = next(s for s in route["smscs"] if s["smsc"] == "second")
    assert route["route"] == "+2547" and second_counts["failover"] > 0
