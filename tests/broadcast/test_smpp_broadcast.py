"""Broadcasts through the SMPP pool into the node-smpp simulator, receipts included.

The worker runs in this process with the real pool; receipts come back on the same
transceiver binds and are recorded through :class:`SMSInbox` (the InboundSink).
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest

from gateway.broadcast.alert_service import AlertService
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.smpp.pool import SMPPPool
from gateway.store.sql_store import SQLStore
from tests.alert_support import sent_alert
from tests.broadcast.conftest import Rig, number
from tests.broadcast.seeding import seed_subscribers
from tests.smpp.smsc_driver import FAST, Simulator, eventually, smsc_settings

pytestmark = pytest.mark.slow

BATCH = 50
CONCURRENCY = 2
SMSC_WINDOW = 10


@dataclass
class SMPPRig:
    db_path: Path
    store: SQLStore
    inbox: SMSInbox
    alerts: AlertService
    vault: NumberVault
    hasher: PhoneHasher
    record: Path

    def pool(self, port: int) -> SMPPPool:
        settings = smsc_settings(port, window=SMSC_WINDOW, tps=5000.0)
        return SMPPPool([settings], self.inbox, tuning=FAST, number_key=self.hasher.hash)

    def worker(self, pool: SMPPPool) -> BroadcastWorker:
        options = WorkerOptions(
            channel="smpp",
            tps=3000.0,
            sms_prefix="Info:",
            batch_size=BATCH,
            concurrency=CONCURRENCY,
            poll_interval=0.05,
        )
        return BroadcastWorker(self.store, pool, self.vault, options)

    async def approved_alert(self) -> int:
        return await sent_alert(
            self.alerts, {"en": "Road closed at the bridge", "ar": "الطريق مغلق عند الجسر"}
        )

    def submitted_numbers(self) -> Counter[str]:
        """Destinations of the simulator's records. Only whole lines count: the newest
        may still be being written while we read, and one the killed simulator was
        writing stays torn (the gateway sends that message again to its successor)."""
        text = self.record.read_text() if self.record.exists() else ""
        seen: Counter[str] = Counter()
        for line in text.split("\n")[:-1]:  # the part after the last newline is unfinished
            try:
                seen[json.loads(line)["dest"]] += 1
            except json.JSONDecodeError:
                continue  # torn by the kill
        return seen


@pytest.fixture
def rig(pool_rig: Rig, tmp_path: Path) -> SMPPRig:
    base = pool_rig
    record = tmp_path / "submits.jsonl"
    return SMPPRig(
        base.db_path, base.store, base.inbox, base.alerts, base.vault, base.hasher, record
    )


async def wait_receipts(rig: SMPPRig, alert: int, expected: int) -> dict[str, int]:
    for _ in range(600):
        counts = await rig.store.outbox_counts(alert)
        if counts["delivered"] >= expected:
            break
        await asyncio.sleep(0.05)
    return dict(counts.counts)


async def test_broadcast_through_smpp_with_receipts(rig: SMPPRig) -> None:
    numbers = [number(index) for index in range(500)]
    seed_subscribers(rig.db_path, rig.hasher, rig.vault, numbers)
    smsc = await Simulator.start(record=rig.record)
    await smsc.configure(dlr=True, record_bodies=False)
    pool = rig.pool(smsc.port)
    await pool.start()
    try:
        alert = await rig.approved_alert()
        await asyncio.wait_for(rig.worker(pool).run(until_idle=True), 60)
        counts = await wait_receipts(rig, alert, 500)
    finally:
        await pool.stop()
        await smsc.stop()
    assert counts == {"delivered": 500}
    assert set(rig.submitted_numbers().values()) == {1}
    assert len(rig.submitted_numbers()) == 500


async def test_smsc_killed_mid_broadcast_the_broadcast_finishes_when_it_returns(
    rig: SMPPRig,
) -> None:
    total = 3000
    numbers = [number(index) for index in range(total)]
    seed_subscribers(rig.db_path, rig.hasher, rig.vault, numbers)
    first = await Simulator.start(record=rig.record)
    await first.configure(dlr=True, record_bodies=False)
    port = first.port
    pool = rig.pool(port)
    await pool.start()
    second: Simulator | None = None
    try:
        alert = await rig.approved_alert()
        sending = asyncio.create_task(rig.worker(pool).run(until_idle=True))
        await eventually(
            lambda: sum(rig.submitted_numbers().values()) >= 600, within=60, every=0.01
        )
        await first.kill()
        await asyncio.sleep(0.3)
        second = await Simulator.start(port=port, record=rig.record)
        await second.configure(dlr=True, record_bodies=False)
        await asyncio.wait_for(sending, 120)
        second_accepted = (await second.stats())["accepted"]
        counts = await wait_receipts(rig, alert, second_accepted)
        status = pool.status()[0]
    finally:
        await pool.stop()
        if second is not None:
            await second.stop()
    seen = rig.submitted_numbers()
    assert set(seen) == {n.lstrip("+") for n in numbers}  # nothing lost
    assert sum(seen.values()) - len(seen) <= SMSC_WINDOW  # duplicates: the SMSC's window
    assert status["connects"] >= 2
    assert (await rig.alerts.status(alert)).state == "done"
    # Every row was handed to an SMSC; only receipts the dead SMSC still owed are missing.
    assert counts.get("queued", 0) == counts.get("claimed", 0) == 0
    assert counts["delivered"] + counts.get("submitted", 0) == total
    assert counts.get("submitted", 0) <= BATCH * CONCURRENCY
