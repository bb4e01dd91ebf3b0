"""Receipt matching that outlives a restart: the pure tracker's adapter to the store.

:class:`gateway.smpp.receipt_tracker.ReceiptTracker` decides; this keeps what it
decided that a restart must not lose, in the store's ``smpp_receipt_formats`` and
``smpp_held_receipts`` (:mod:`gateway.store.receipt_state`):

- a receipt held (it could belong to two live messages) is written before the
  deliver_sm_resp goes out: acknowledged means kept;
- a held receipt resolved is forgotten only after its report was stored: a crash in
  between resolves it again at the next start, which changes nothing twice;
- the format, once learned, is kept, and comes back at the next start, so receipts
  are matched from the first one instead of being held again while learning.

Changes are saved in the order they were made (each receipt that changed something
waits for the previous such receipt to be done; receipts that change nothing stay
out of that order, so receipts still reach the store in batches), so a receipt held
and resolved by two receipts handled at once never stays in the store after it was
resolved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from gateway.smpp.receipt_ids import ReceiptIdFormat
from gateway.smpp.receipt_tracker import ReceiptTracker, TrackerChanges
from gateway.smpp.receipts import Receipt
from gateway.sms.messages import DeliveryState
from gateway.store.records import HeldReceipt, ReceiptMatching

Report = Callable[[list[Receipt]], Awaitable[None]]


class ReceiptMatchingStore(Protocol):
    async def receipt_matching(self, scope: str) -> ReceiptMatching: ...

    async def save_receipt_matching(
        self,
        scope: str,
        *,
        held: list[HeldReceipt] = ...,
        released: list[HeldReceipt] = ...,
        learned: str | None = None,
        now: float,
    ) -> None: ...


def _record(receipt: Receipt) -> HeldReceipt:
    return HeldReceipt(receipt.message_id, receipt.state.value, receipt.error)


def _receipt(record: HeldReceipt) -> Receipt | None:
    try:
        return Receipt(record.receipt_id, DeliveryState(record.state), record.error)
    except ValueError:
        return None


class DurableReceipts:
    """One SMSC account's tracker, with its held receipts and format kept in ``store``
    (None: in memory only, as in tests of the link alone)."""

    def __init__(
        self,
        tracker: ReceiptTracker,
        store: ReceiptMatchingStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.tracker = tracker
        self.store = store
        self.clock = clock
        self._previous: asyncio.Future[None] | None = None

    async def restore(self, report: Report) -> int:
        """At start: bring back the format and the held receipts; report those that
        resolve at once. Returns how many receipts were restored."""
        if self.store is None:
            return 0
        kept = await self.store.receipt_matching(self.tracker.scope)
        learned = None
        if kept.receipt_id is not None:
            try:
                learned = ReceiptIdFormat(kept.receipt_id)
            except ValueError:
                learned = None
        receipts = [r for r in map(_receipt, kept.held) if r is not None]
        before = self.tracker.stats.restored
        await self._apply(self.tracker.restore(learned, receipts), report)
        return self.tracker.stats.restored - before

    async def receive(self, receipt: Receipt, report: Report) -> None:
        """Match ``receipt``, report what that settles, keep what must outlive us."""
        await self._apply(self.tracker.receive(receipt), report)

    async def _apply(self, reports: list[Receipt], report: Report) -> None:
        changes = self.tracker.take_changes()
        if not changes:  # the common case: nothing to keep, so no place in the order
            if reports:
                await report(reports)
            return
        previous = self._previous
        mine: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._previous = mine
        try:
            if changes.held or changes.learned is not None:
                # Held receipts are kept before anything else (and before the
                # deliver_sm_resp, which waits for this coroutine).
                await self._wait(previous)
                await self._save(TrackerChanges(held=changes.held, learned=changes.learned))
                previous = None
            if reports:
                await report(reports)
            if changes.released:
                await self._wait(previous)
                await self._save(TrackerChanges(released=changes.released))
        finally:
            mine.set_result(None)
            if self._previous is mine:
                self._previous = None

    @staticmethod
    async def _wait(previous: asyncio.Future[None] | None) -> None:
        if previous is not None:
            await asyncio.shield(previous)

    async def _save(self, changes: TrackerChanges) -> None:
        if self.store is None or not changes:
            return
        await self.store.save_receipt_matching(
            self.tracker.scope,
            held=[_record(r) for r in changes.held],
            released=[_record(r) for r in changes.released],
            learned=changes.learned.value if changes.learned is not None else None,
            now=self.clock(),
        )
