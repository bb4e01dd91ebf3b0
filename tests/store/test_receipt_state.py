"""SMPP receipt matching kept in the store (both engines), and the pool's adapter that
keeps it: a held receipt survives a restart and lands on its row once the format is
learned."""

from __future__ import annotations

import asyncio
from pathlib import Path

from gateway.smpp.durable_receipts import DurableReceipts
from gateway.smpp.receipt_ids import EVIDENCE_NEEDED, ReceiptIdFormat
from gateway.smpp.receipt_tracker import ReceiptTracker
from gateway.smpp.receipts import Receipt
from gateway.sms.messages import DeliveryState
from gateway.store.records import HeldReceipt, ReceiptMatching
from gateway.store.sql_store import SQLStore, open_store

FAILED = DeliveryState.FAILED
DELIVERED = DeliveryState.DELIVERED


async def test_held_receipts_and_the_format_are_kept_per_scope(store: SQLStore) -> None:
    one, two = HeldReceipt("16", "failed", "069"), HeldReceipt("17", "delivered")
    assert await store.receipt_matching("a") == ReceiptMatching(None, ())
    await store.save_receipt_matching("a", held=[one, two, one], now=1.0)
    await store.save_receipt_matching("b", held=[one], learned="as-is", now=2.0)
    assert await store.receipt_matching("a") == ReceiptMatching(None, (one, two))
    assert await store.receipt_matching("b") == ReceiptMatching("as-is", (one,))
    assert await store.held_receipt_counts() == {"a": 2, "b": 1}
    # Held and released in one save: gone. Released alone: gone.
    three = HeldReceipt("18", "expired")
    await store.save_receipt_matching(
        "a", held=[three], released=[three, one], learned="hex-to-dec", now=3.0
    )
    assert await store.receipt_matching("a") == ReceiptMatching("hex-to-dec", (two,))
    assert await store.receipt_matching("b") == ReceiptMatching("as-is", (one,))


class Reports:
    def __init__(self) -> None:
        self.got: list[Receipt] = []

    async def __call__(self, reports: list[Receipt]) -> None:
        self.got.extend(reports)


async def test_a_held_receipt_outlives_a_restart_and_resolves_to_its_id(tmp_path: Path) -> None:
    path = str(tmp_path / "gateway.db")
    store = await open_store(path, audit=None)
    durable = DurableReceipts(ReceiptTracker("sim"), store, clock=lambda: 5.0)
    await durable.restore(Reports())
    for value in (0x10, 0x16):
        durable.tracker.submitted((format(value, "x"),))
    before = Reports()
    await durable.receive(Receipt("16", FAILED), before)  # hex 10 or hex 16: held
    assert before.got == [] and durable.tracker.held == 1
    await store.close()

    store = await open_store(path, audit=None)  # the gateway starts again: nothing in memory
    assert await store.held_receipt_counts() == {"sim": 1}
    durable = DurableReceipts(ReceiptTracker("sim"), store)
    after = Reports()
    assert await durable.restore(after) == 1 and after.got == []
    ids = [format(n, "x") for n in range(0x1000, 0x1000 + EVIDENCE_NEEDED)]
    for message_id in ids:
        durable.tracker.submitted((message_id,))
    for message_id in ids:
        await durable.receive(Receipt(str(int(message_id, 16)), DELIVERED), after)
    assert Receipt("sim/10", FAILED) in after.got  # decimal 16 is the SMSC's hex 10
    assert await store.receipt_matching("sim") == ReceiptMatching("hex-to-dec", ())
    await store.close()

    store = await open_store(path, audit=None)  # and once more: the format is known from the start
    durable = DurableReceipts(ReceiptTracker("sim"), store)
    await durable.restore(Reports())
    assert durable.tracker.known_format is ReceiptIdFormat.HEX_TO_DEC
    third = Reports()
    await durable.receive(Receipt("26", DELIVERED), third)
    assert third.got == [Receipt("sim/1a", DELIVERED)]
    await store.close()


class GatedStore:
    """The real store, with saves of newly held receipts waiting for ``gate``."""

    def __init__(self, store: SQLStore) -> None:
        self.store = store
        self.gate = asyncio.Event()

    async def receipt_matching(self, scope: str) -> ReceiptMatching:
        return await self.store.receipt_matching(scope)

    async def save_receipt_matching(
        self,
        scope: str,
        *,
        held: list[HeldReceipt] = [],  # noqa: B006 (never mutated)
        released: list[HeldReceipt] = [],  # noqa: B006
        learned: str | None = None,
        now: float,
    ) -> None:
        if held:
            await self.gate.wait()
        await self.store.save_receipt_matching(
            scope, held=held, released=released, learned=learned, now=now
        )


async def test_a_receipt_resolved_while_its_hold_is_being_saved_is_not_left_held(
    tmp_path: Path,
) -> None:
    """Held (its save slow), then a receipt that changes nothing, then one that
    resolves it: the release is saved after the hold, never before."""
    store = await open_store(str(tmp_path / "gateway.db"), audit=None)
    gated = GatedStore(store)
    durable = DurableReceipts(ReceiptTracker("sim"), gated)
    for message_id in ("10", "16", "5", "1f"):
        durable.tracker.submitted((message_id,))
    reports = Reports()
    holding = asyncio.create_task(durable.receive(Receipt("16", FAILED), reports))
    await asyncio.sleep(0.05)
    await durable.receive(Receipt("5", DELIVERED), reports)  # no change: not delayed
    resolving = asyncio.create_task(durable.receive(Receipt("1F", DELIVERED), reports))
    await asyncio.sleep(0.05)
    gated.gate.set()
    await asyncio.gather(holding, resolving)
    assert Receipt("sim/16", FAILED) in reports.got  # as-is, learned from the hex letter
    assert await store.receipt_matching("sim") == ReceiptMatching("as-is", ())
    await store.close()
