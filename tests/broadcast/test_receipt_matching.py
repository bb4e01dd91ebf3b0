"""Receipts from SMSCs whose ids collide land on exactly the right rows (node-smpp).

The simulator numbers its message ids in hex from 1 (so live ids alias each other
when read in the other base: ``10`` and ``16``), sends each receipt 5 s after the
submission with the id only in the text, restarts its counter, or runs twice side
by side with the same numbering. Every row must end final, and final as its own
SMSC said.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.broadcast.alert_service import AlertDraft, AlertService
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.receipt_recorder import ReceiptRecorder
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import PROJECT_ROOT, Secret, SMSCSettings
from gateway.smpp.pool import SMPPPool
from gateway.sms.keywords import load_catalog
from gateway.store.sql_store import SQLStore
from tests.audit_support import seal_at
from tests.broadcast.conftest import ENCRYPTION_KEY, HASH_KEY, number
from tests.broadcast.seeding import seed_subscribers
from tests.smpp.smsc_driver import FAST, Simulator, smsc_settings

pytestmark = pytest.mark.slow

RECEIPT_DELAY_MS = 5000
HEX_FROM_ONE = {
    "dlr": True,
    "record_bodies": False,
    "id_base": "hex",
    "id_start": 1,
    "dlr_delay_ms": RECEIPT_DELAY_MS,
    "dlr_tlv": False,  # the id only in the receipt text, as many SMSCs send it
}


class Rig:
    def __init__(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "gateway.db"
        self.hasher = PhoneHasher(Secret(HASH_KEY))
        self.vault = NumberVault(Secret(ENCRYPTION_KEY))

    async def open(self) -> None:
        self.store: SQLStore = await SQLStore.open(self.db_path, seal_at(self.db_path.parent))
        subscriptions = SubscriptionService(self.store, self.hasher, self.vault)
        catalog = load_catalog(PROJECT_ROOT / "content")
        self.receipts = ReceiptRecorder(self.store)
        keywords = KeywordService(subscriptions, catalog)
        self.inbox = SMSInbox(self.store, subscriptions, keywords, self.receipts, None)
        self.alerts = AlertService(self.store, [topic.code for topic in catalog.topics])

    async def close(self) -> None:
        await self.receipts.close()
        await self.store.close()

    def pool(self, smscs: list[SMSCSettings]) -> SMPPPool:
        return SMPPPool(smscs, self.inbox, tuning=FAST, number_key=self.hasher.hash)

    async def broadcast(self, pool: SMPPPool, tps: float = 3000.0) -> int:
        now = time.time()
        draft = AlertDraft(
            texts={"en": "Road closed at the bridge"},
            fallback_language="en",
            topics=("hotlines",),
            source="desk",
            author="alice",
            expires_at=now + 3600,
        )
        alert = await self.alerts.create(draft, now)
        await self.alerts.approve(alert, "bob", now)
        await self.alerts.send(alert, "bob", now)
        options = WorkerOptions(
            channel="smpp", tps=tps, sms_prefix="Info:", batch_size=50, poll_interval=0.05
        )
        worker = BroadcastWorker(self.store, pool, self.vault, options)
        await asyncio.wait_for(worker.run(until_idle=True), 120)
        return alert

    async def wait_final(self, alert: int, total: int, within: float = 90.0) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _ in range(int(within / 0.1)):
            counts = dict((await self.store.outbox_counts(alert)).counts)
            if sum(v for k, v in counts.items() if k not in ("queued", "claimed", "submitted")) >= (
                total
            ):
                break
            await asyncio.sleep(0.1)
        return counts

    def states_by_number(self, alert: int, numbers: list[str]) -> dict[str, str]:
        by_hash = {self.hasher.hash(n): n for n in numbers}
        with sqlite3.connect(self.db_path) as db:
            rows = db.execute(
                "SELECT s.msisdn_hash, o.state FROM outbox o JOIN subscribers s "
                "ON s.id = o.subscriber_id WHERE o.broadcast_id = ?",
                (alert,),
            ).fetchall()
        return {by_hash[h]: state for h, state in rows}


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path)
    await made.open()
    yield made
    await made.close()


def seed(rig: Rig, total: int) -> list[str]:
    numbers = [number(index) for index in range(total)]
    seed_subscribers(rig.db_path, rig.hasher, rig.vault, numbers)
    return numbers


@pytest.mark.parametrize("receipt_ids", ["hex", "decimal"])
async def test_hex_ids_from_one_with_late_receipts_all_3000_delivered(
    rig: Rig, receipt_ids: str
) -> None:
    """``hex``: receipts write ids as the submit_sm_resp did (as-is); ``decimal``: they
    write their value in decimal (hex-to-dec). The gateway is not told: ``auto``."""
    total = 3000
    seed(rig, total)
    smsc = await Simulator.start()
    await smsc.configure(**HEX_FROM_ONE, dlr_id_format=receipt_ids)
    pool = rig.pool([smsc_settings(smsc.port, window=50)])
    await pool.start()
    try:
        alert = await rig.broadcast(pool)
        counts = await rig.wait_final(alert, total)
        receipts = pool.receipt_status()[0]
    finally:
        await pool.stop()
        await smsc.stop()
    assert counts == {"delivered": total}
    assert receipts["receipt_id"] == ("as-is" if receipt_ids == "hex" else "hex-to-dec")
    assert receipts["held"] == 0 and receipts["live"] == 0
    if receipt_ids == "decimal":
        assert receipts["ambiguous"] > 0  # some had to wait for the format: none guessed
        assert receipts["resolved"] == receipts["ambiguous"]


async def test_an_smsc_restarting_its_counter_between_broadcasts(rig: Rig) -> None:
    total = 3000
    seed(rig, total)
    first = await Simulator.start()
    port = first.port
    await first.configure(**HEX_FROM_ONE, dlr_id_format="hex")
    pool = rig.pool([smsc_settings(port, window=50)])
    await pool.start()
    second: Simulator | None = None
    try:
        before = await rig.broadcast(pool)
        before_counts = await rig.wait_final(before, total)
        await first.kill()
        second = await Simulator.start(port=port)
        await second.configure(**HEX_FROM_ONE, dlr_id_format="hex")  # ids from 1 again
        await asyncio.wait_for(pool.wait_bound(), 30)
        after = await rig.broadcast(pool)
        after_counts = await rig.wait_final(after, total)
        before_again = dict((await rig.store.outbox_counts(before)).counts)
    finally:
        await pool.stop()
        if second is not None:
            await second.stop()
        await first.stop()
    assert before_counts == {"delivered": total}
    assert after_counts == {"delivered": total}
    assert before_again == {"delivered": total}  # no receipt of the second touched the first


async def test_two_smscs_numbering_from_one_each_row_final_and_right(
    rig: Rig, tmp_path: Path
) -> None:
    """SMSC ``good`` delivers everything, ``bad`` fails everything; both count from 1.
    A row must end as the SMSC that carried it said, never as the other one did."""
    total = 400
    numbers = seed(rig, total)
    good_record, bad_record = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good = await Simulator.start(record=good_record)
    bad = await Simulator.start(record=bad_record)
    quicker = {**HEX_FROM_ONE, "dlr_delay_ms": 1000, "dlr_id_format": "hex"}
    await good.configure(**quicker)
    await bad.configure(**quicker, dlr_stat="UNDELIV")
    pool = rig.pool(
        [
            smsc_settings(good.port, name="good", receipt_id="as-is"),
            smsc_settings(bad.port, name="bad", receipt_id="as-is"),
        ]
    )
    await pool.start()
    try:
        alert = await rig.broadcast(pool)
        counts = await rig.wait_final(alert, total)
    finally:
        await pool.stop()
        await good.stop()
        await bad.stop()
    carried_by = {}
    for record, name in ((good_record, "good"), (bad_record, "bad")):
        for line in record.read_text().splitlines():
            carried_by["+" + line.split('"dest":"')[1].split('"')[0]] = name
    states = rig.states_by_number(alert, numbers)
    assert sum(counts.values()) == total and set(counts) <= {"delivered", "failed"}
    assert set(carried_by.values()) == {"good", "bad"}  # both SMSCs carried some
    wrong = {
        n: (carried_by[n], state)
        for n, state in states.items()
        if state != ("delivered" if carried_by[n] == "good" else "failed")
    }
    assert wrong == {}
