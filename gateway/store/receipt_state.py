"""SMPP receipt matching that outlives a restart, per SMSC account (id scope).

The id format an account's SMSC was seen to use (``auto`` learns it from evidence, see
:mod:`gateway.smpp.receipt_ids`), and the receipts held meanwhile because they could
belong to two live messages. Both are written by the SMPP pool's adapter
(:mod:`gateway.smpp.durable_receipts`) before the receipt is acknowledged to the SMSC,
and read back when the pool starts. Receipt ids are the SMSC's message ids: no phone
number is kept here.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.base import StoreBase
from gateway.store.records import HeldReceipt, ReceiptMatching


class ReceiptState(StoreBase):
    async def receipt_matching(self, scope: str) -> ReceiptMatching:
        """The learned format (None while learning) and the held receipts, oldest first."""
        learned = await self.fetchval(
            "SELECT receipt_id FROM smpp_receipt_formats WHERE scope = ?", scope
        )
        rows = await self.fetch(
            "SELECT receipt_id, state, error FROM smpp_held_receipts WHERE scope = ? ORDER BY id",
            scope,
        )
        return ReceiptMatching(learned, tuple(HeldReceipt(row[0], row[1], row[2]) for row in rows))

    async def save_receipt_matching(
        self,
        scope: str,
        *,
        held: Sequence[HeldReceipt] = (),
        released: Sequence[HeldReceipt] = (),
        learned: str | None = None,
        now: float,
    ) -> None:
        """Keep ``held``, forget ``released`` (in that order: a receipt held and released
        since the last save is gone), and keep ``learned`` when given. One transaction."""
        async with self.transaction("receipt matching") as db:
            await db.executemany(
                "INSERT INTO smpp_held_receipts (scope, receipt_id, state, error, held_at) "
                "VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (scope, receipt_id, state, error) DO NOTHING",
                [(scope, r.receipt_id, r.state, r.error, now) for r in held],
            )
            await db.executemany(
                "DELETE FROM smpp_held_receipts "
                "WHERE scope = ? AND receipt_id = ? AND state = ? AND error = ?",
                [(scope, r.receipt_id, r.state, r.error) for r in released],
            )
            if learned is not None:
                await db.execute(
                    "INSERT INTO smpp_receipt_formats (scope, receipt_id, learned_at) "
                    "VALUES (?, ?, ?) ON CONFLICT (scope) DO UPDATE "
                    "SET receipt_id = excluded.receipt_id, learned_at = excluded.learned_at",
                    scope,
                    learned,
                    now,
                )

    async def held_receipt_counts(self) -> dict[str, int]:
        """Receipts held per scope (for operators: what waits on a format)."""
        rows = await self.fetch(
            "SELECT scope, count(*) FROM smpp_held_receipts GROUP BY scope ORDER BY scope"
        )
        return {row[0]: int(row[1]) for row in rows}
