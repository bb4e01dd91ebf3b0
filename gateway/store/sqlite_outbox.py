"""SQLite: broadcasts, their outbox, and delivery receipts.

The outbox holds ONE row per (broadcast, recipient), with a ``parts`` count, rather
than one row per SMS part: the person is the unit that must reach a final state, a
million-recipient alert stays a million rows, and the channel (which splits long
texts) reports one message id per part into ``outbox_messages``, where receipts
find their row by (channel, message_id). A row is delivered when all its parts are,
or when its first part is: the SMPP pool and Africa's Talking both report one
receipt per message, under the first part's id, once every part has arrived.

Receipts are applied set-wise through a temporary table, so a batch of a thousand
costs a handful of statements, not thousands.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

import aiosqlite

from gateway.store.records import (
    FINAL_PART_STATES,
    Audience,
    Broadcast,
    ClaimedMessage,
    DeliveryUpdate,
    NewBroadcast,
    OutboxCounts,
    OutboxState,
    Submission,
)
from gateway.store.sqlite_base import Row, SQLiteBase, placeholders
from gateway.store.sqlite_people import audience_filter, opt_out_subscribers

_UNFINISHED = "('queued', 'claimed')"
EARLY_RECEIPT_WINDOW = 600.0  # seconds a receipt may precede the record of its submission


def _broadcast(row: Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        texts=json.loads(row["texts"]),
        fallback_language=row["fallback_language"],
        audience=Audience(
            topics=tuple(json.loads(row["topics"])),
            regions=tuple(json.loads(row["regions"])),
            languages=tuple(json.loads(row["languages"])),
        ),
        source=row["source"],
        author=row["author"],
        approver=row["approver"],
        expires_at=row["expires_at"],
        state=row["state"],
        created_at=row["created_at"],
        approved_at=row["approved_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        expansion_done=bool(row["expansion_done"]),
        expansion_cursor=row["expansion_cursor"],
    )


class SQLiteOutbox(SQLiteBase):
    async def create_broadcast(self, new: NewBroadcast, now: float) -> int:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO broadcasts (texts, fallback_language, topics, regions, languages, "
                "source, author, expires_at, state, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?)",
                (
                    json.dumps(dict(new.texts), ensure_ascii=False, sort_keys=True),
                    new.fallback_language,
                    json.dumps(list(new.audience.topics)),
                    json.dumps(list(new.audience.regions)),
                    json.dumps(list(new.audience.languages)),
                    new.source,
                    new.author,
                    new.expires_at,
                    now,
                ),
            )
            assert cursor.lastrowid is not None
            return cursor.lastrowid

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self.fetchone("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
        return None if row is None else _broadcast(row)

    async def list_broadcasts(
        self, states: Iterable[str] | None = None, limit: int = 100
    ) -> list[Broadcast]:
        wanted = list(states) if states is not None else []
        where = f"WHERE state IN ({placeholders(len(wanted))})" if wanted else ""
        rows = await self.fetchall(
            f"SELECT * FROM broadcasts {where} ORDER BY id DESC LIMIT ?", (*wanted, limit)
        )
        return [_broadcast(row) for row in rows]

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        expected: str,
        new: str,
        now: float,
        approver: str | None = None,
    ) -> bool:
        stamps = {"approved": "approved_at", "sending": "started_at"}
        extra = ""
        if new in stamps:
            extra = f", {stamps[new]} = COALESCE({stamps[new]}, :now)"
        if new in ("done", "cancelled"):
            extra = ", finished_at = :now"
        if approver is not None:
            extra += ", approver = :approver"
        async with self.transaction() as db:
            cursor = await db.execute(
                f"UPDATE broadcasts SET state = :new{extra} WHERE id = :id AND state = :expected",
                {
                    "new": new,
                    "now": now,
                    "approver": approver,
                    "id": broadcast_id,
                    "expected": expected,
                },
            )
            return cursor.rowcount > 0

    async def expand_audience(self, broadcast_id: int, batch_size: int, now: float) -> int:
        async with self.transaction() as db:
            rows = list(
                await db.execute_fetchall("SELECT * FROM broadcasts WHERE id = ?", (broadcast_id,))
            )
            if not rows or rows[0]["expansion_done"]:
                return 0
            broadcast = _broadcast(rows[0])
            found: list[Row] = []
            if broadcast.audience.topics:
                clause, params = audience_filter(broadcast.audience)
                found = list(
                    await db.execute_fetchall(
                        f"SELECT s.id, s.language FROM subscribers s WHERE s.id > ? AND {clause} "
                        "ORDER BY s.id LIMIT ?",
                        (broadcast.expansion_cursor, *params, batch_size),
                    )
                )
            await db.executemany(
                "INSERT INTO outbox (broadcast_id, subscriber_id, language, state, created_at) "
                "VALUES (?, ?, ?, 'queued', ?) ON CONFLICT DO NOTHING",
                [(broadcast_id, row["id"], row["language"], now) for row in found],
            )
            cursor = found[-1]["id"] if found else broadcast.expansion_cursor
            await db.execute(
                "UPDATE broadcasts SET expansion_cursor = ?, expansion_done = ? WHERE id = ?",
                (cursor, int(len(found) < batch_size), broadcast_id),
            )
            return len(found)

    async def claim_outbox(
        self, broadcast_id: int, worker: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedMessage]:
        async with self.transaction() as db:
            # Rows held by a worker that died come back once their lease runs out.
            await db.execute(
                "UPDATE outbox SET state = 'queued', claimed_by = NULL "
                "WHERE broadcast_id = ? AND state = 'claimed' AND lease_until < ?",
                (broadcast_id, now),
            )
            rows = list(
                await db.execute_fetchall(
                    "SELECT o.id, o.subscriber_id, o.language, o.attempts, s.msisdn_sealed "
                    "FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id "
                    "WHERE o.broadcast_id = ? AND o.state = 'queued' ORDER BY o.id LIMIT ?",
                    (broadcast_id, limit),
                )
            )
            gone = [row["id"] for row in rows if row["msisdn_sealed"] is None]
            live = [row for row in rows if row["msisdn_sealed"] is not None]
            if gone:
                await db.execute(
                    f"UPDATE outbox SET state = 'opted_out', final_at = ? "
                    f"WHERE id IN ({placeholders(len(gone))})",
                    (now, *gone),
                )
            if live:
                await db.execute(
                    f"UPDATE outbox SET state = 'claimed', claimed_by = ?, lease_until = ?, "
                    f"attempts = attempts + 1 WHERE id IN ({placeholders(len(live))})",
                    (worker, now + lease_seconds, *(row["id"] for row in live)),
                )
        return [
            ClaimedMessage(
                outbox_id=row["id"],
                subscriber_id=row["subscriber_id"],
                language=row["language"],
                attempts=row["attempts"] + 1,
                msisdn_sealed=bytes(row["msisdn_sealed"]),
            )
            for row in live
        ]

    async def record_submissions(
        self, channel: str, submissions: Sequence[Submission], now: float, max_attempts: int
    ) -> None:
        by_outcome: dict[str, list[Submission]] = {}
        for submission in submissions:
            by_outcome.setdefault(submission.outcome, []).append(submission)
        async with self.transaction() as db:
            accepted = by_outcome.get("accepted", [])
            await db.executemany(
                "UPDATE outbox SET state = 'submitted', parts = ?, submitted_at = ?, "
                "claimed_by = NULL, lease_until = NULL, error = '' "
                "WHERE id = ? AND state NOT IN ('delivered', 'failed', 'expired')",
                [(len(s.message_ids), now, s.outbox_id) for s in accepted],
            )
            await db.executemany(
                # An SMSC that restarts may hand out the same ids again: the newest
                # submission owns an id.
                "INSERT INTO outbox_messages (channel, message_id, outbox_id, part, state) "
                "VALUES (?, ?, ?, ?, 'submitted') ON CONFLICT (channel, message_id) DO UPDATE "
                "SET outbox_id = excluded.outbox_id, part = excluded.part, state = 'submitted'",
                [
                    (channel, message_id, s.outbox_id, part)
                    for s in accepted
                    for part, message_id in enumerate(s.message_ids)
                ],
            )
            await db.executemany(
                "UPDATE outbox SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' "
                "END, final_at = CASE WHEN attempts >= ? THEN ? ELSE NULL END, "
                "claimed_by = NULL, lease_until = NULL, error = ? "
                "WHERE id = ? AND state = 'claimed'",
                [
                    (max_attempts, max_attempts, now, s.error[:200], s.outbox_id)
                    for s in by_outcome.get("retry", [])
                ],
            )
            await db.executemany(
                "UPDATE outbox SET state = 'failed', final_at = ?, claimed_by = NULL, "
                "error = ? WHERE id = ?",
                [(now, s.error[:200], s.outbox_id) for s in by_outcome.get("failed", [])],
            )
            refused = [s.outbox_id for s in by_outcome.get("opted_out", [])]
            if refused:
                await self._opt_out_rows(db, refused, now)
            if accepted:
                await self._apply_early_receipts(db, channel, now)

    async def _opt_out_rows(
        self, db: aiosqlite.Connection, outbox_ids: list[int], now: float
    ) -> None:
        marks = placeholders(len(outbox_ids))
        await db.execute(
            f"UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
            f"WHERE id IN ({marks}) AND state NOT IN ('delivered', 'failed', 'expired')",
            (now, *outbox_ids),
        )
        rows = await db.execute_fetchall(
            f"SELECT DISTINCT subscriber_id FROM outbox WHERE id IN ({marks})", outbox_ids
        )
        await opt_out_subscribers(db, [row[0] for row in rows], now)

    async def _apply_early_receipts(
        self, db: aiosqlite.Connection, channel: str, now: float
    ) -> None:
        """Receipts that arrived before their submission was recorded (a fast SMSC).
        Only recent ones: an old unmatched receipt must not land on a reused id."""
        since = now - EARLY_RECEIPT_WINDOW
        await db.execute("DELETE FROM receipt_batch")
        await db.execute(
            "INSERT INTO receipt_batch (channel, message_id, state, error, at) "
            "SELECT e.channel, e.message_id, e.state, e.error, e.at FROM delivery_events e "
            "JOIN outbox_messages m ON m.channel = e.channel AND m.message_id = e.message_id "
            "JOIN outbox o ON o.id = m.outbox_id AND o.state = 'submitted' "
            "WHERE e.outbox_id IS NULL AND e.channel = ? AND e.at >= ? ORDER BY e.id",
            (channel, since),
        )
        await db.execute(
            "UPDATE delivery_events SET outbox_id = (SELECT m.outbox_id FROM outbox_messages m "
            "WHERE m.channel = delivery_events.channel "
            "AND m.message_id = delivery_events.message_id) "
            "WHERE outbox_id IS NULL AND channel = ? AND at >= ? AND message_id IN "
            "(SELECT message_id FROM receipt_batch)",
            (channel, since),
        )
        await self._apply_receipt_batch(db)

    async def record_deliveries(self, updates: Sequence[DeliveryUpdate]) -> int:
        if not updates:
            return 0
        async with self.transaction() as db:
            await db.execute("DELETE FROM receipt_batch")
            await db.executemany(
                "INSERT INTO receipt_batch (channel, message_id, state, error, at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(u.channel, u.message_id, u.state, u.error[:200], u.at) for u in updates],
            )
            # A receipt whose id maps to a row that is already final is kept unmatched:
            # the SMSC may have reused the id for a submission not yet recorded.
            await db.execute(
                "INSERT INTO delivery_events (outbox_id, channel, message_id, state, error, at) "
                "SELECT (SELECT m.outbox_id FROM outbox_messages m JOIN outbox o "
                "ON o.id = m.outbox_id WHERE m.channel = r.channel "
                "AND m.message_id = r.message_id AND o.state = 'submitted'), "
                "r.channel, r.message_id, r.state, r.error, r.at "
                "FROM receipt_batch r ORDER BY r.seq"
            )
            return await self._apply_receipt_batch(db)

    async def _apply_receipt_batch(self, db: aiosqlite.Connection) -> int:
        """Move parts named in ``receipt_batch`` forward, then derive their rows' states."""
        final_parts = "(" + ",".join(f"'{state}'" for state in FINAL_PART_STATES) + ")"
        cursor = await db.execute(
            "UPDATE outbox_messages SET state = (SELECT r.state FROM receipt_batch r "
            "WHERE r.channel = outbox_messages.channel "
            "AND r.message_id = outbox_messages.message_id ORDER BY r.seq DESC LIMIT 1) "
            f"WHERE state NOT IN {final_parts} AND (channel, message_id) IN "
            "(SELECT channel, message_id FROM receipt_batch)"
        )
        matched = cursor.rowcount
        touched = (
            "SELECT m.outbox_id FROM outbox_messages m JOIN receipt_batch r "
            "ON r.channel = m.channel AND r.message_id = m.message_id"
        )
        refused = [
            row[0]
            for row in await db.execute_fetchall(
                f"SELECT DISTINCT o.id FROM outbox o WHERE o.id IN ({touched}) "
                "AND o.state = 'submitted' AND EXISTS (SELECT 1 FROM outbox_messages m "
                "WHERE m.outbox_id = o.id AND m.state = 'opted_out')"
            )
        ]
        at = "(SELECT max(r.at) FROM receipt_batch r)"
        parts = "FROM outbox_messages m WHERE m.outbox_id = outbox.id AND m.state"
        await db.execute(
            f"UPDATE outbox SET "
            f"parts_delivered = (SELECT count(*) {parts} = 'delivered'), "
            f"state = CASE "
            f"WHEN EXISTS (SELECT 1 {parts} IN ('failed', 'rejected')) THEN 'failed' "
            f"WHEN EXISTS (SELECT 1 {parts} = 'expired') THEN 'expired' "
            f"WHEN (SELECT count(*) {parts} = 'delivered') >= parts "
            f"OR EXISTS (SELECT 1 {parts} = 'delivered' AND m.part = 0) THEN 'delivered' "
            f"ELSE state END, "
            f"error = COALESCE((SELECT r.error FROM receipt_batch r JOIN outbox_messages m "
            f"ON r.channel = m.channel AND r.message_id = m.message_id "
            f"WHERE m.outbox_id = outbox.id AND r.error != '' LIMIT 1), error) "
            f"WHERE id IN ({touched}) AND state = 'submitted'"
        )
        await db.execute(
            f"UPDATE outbox SET final_at = {at} WHERE id IN ({touched}) "
            "AND final_at IS NULL AND state NOT IN ('queued', 'claimed', 'submitted')"
        )
        if refused:
            await self._opt_out_rows(db, refused, await _max_at(db))
        return matched

    async def close_pending(
        self, broadcast_id: int, state: OutboxState, now: float, include_submitted: bool
    ) -> int:
        states = "('queued', 'claimed', 'submitted')" if include_submitted else _UNFINISHED
        async with self.transaction() as db:
            cursor = await db.execute(
                f"UPDATE outbox SET state = ?, final_at = ?, claimed_by = NULL "
                f"WHERE broadcast_id = ? AND state IN {states}",
                (state.value, now, broadcast_id),
            )
            return cursor.rowcount

    async def close_unconfirmed(
        self, broadcast_id: int, scope: str, submitted_before: float, now: float
    ) -> int:
        prefix = f"{scope}/" if scope else ""
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE outbox SET state = 'unknown', final_at = ? "
                "WHERE broadcast_id = ? AND state = 'submitted' AND submitted_at < ? "
                "AND EXISTS (SELECT 1 FROM outbox_messages m WHERE m.outbox_id = outbox.id "
                "AND m.part = 0 AND substr(m.message_id, 1, ?) = ?)",
                (now, broadcast_id, submitted_before, len(prefix), prefix),
            )
            return cursor.rowcount

    async def outbox_counts(self, broadcast_id: int) -> OutboxCounts:
        rows = await self.fetchall(
            "SELECT state, count(*) FROM outbox WHERE broadcast_id = ? GROUP BY state",
            (broadcast_id,),
        )
        return OutboxCounts({row[0]: int(row[1]) for row in rows})


async def _max_at(db: aiosqlite.Connection) -> float:
    rows = list(await db.execute_fetchall("SELECT max(at) FROM receipt_batch"))
    return float(rows[0][0] or 0.0)
