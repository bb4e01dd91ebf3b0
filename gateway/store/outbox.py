"""Broadcasts, their outbox, and delivery receipts.

The outbox holds ONE row per (broadcast, recipient), with a ``parts`` count, rather
than one row per SMS part: the person is the unit that must reach a final state, a
million-recipient alert stays a million rows, and the channel (which splits long
texts) reports one message id per part into ``outbox_messages``, where receipts
find their row by (channel, message_id). A row is delivered when all its parts are,
or when its first part is: the SMPP pool and Africa's Talking both report one
receipt per message, under the first part's id, once every part has arrived.

Receipts are applied set-wise through a scratch table (``receipt_batch``, one per
connection), so a batch of a thousand costs a handful of statements, not thousands.

On PostgreSQL several workers work the same outbox at once (on SQLite one writer at a
time makes all of this hold by itself; the dialect's clauses are empty there):

- ``claim_outbox`` picks rows ``FOR UPDATE SKIP LOCKED``: two workers claiming at the
  same moment get disjoint rows, and neither waits for the other. A claimed row carries
  a lease; a worker that dies leaves its rows ``claimed`` until the lease runs out, then
  the next claim takes them again. So no row is sent twice while its lease holds, and no
  row is left behind.
- ``expand_audience`` locks the broadcast row, so two workers never expand the same
  slice twice.
- receipts lock the outbox rows they touch (in id order, so receipt batches never
  deadlock each other) before counting delivered parts: two receipts for two parts of
  one message, applied at once, cannot both miss the other.
- a receipt can overtake the record of its submission, written at the same moment on
  another connection. Under READ COMMITTED neither transaction sees the other's rows:
  the receipt would be stored unmatched and the submission's early-receipt pass would
  miss it, leaving the row ``submitted`` for good. An advisory lock orders the two: a
  receipt batch takes it exclusive, a submission record shared, each as its first
  statement, before any row lock, so it cannot deadlock with them.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence

from gateway.store.database import Connection, Row
from gateway.store.people import People, audience_filter, opt_out_subscribers
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

_UNFINISHED = "('queued', 'claimed')"
_RECEIPTS_AFTER_SUBMISSIONS = 0x67775F72656370  # advisory lock key (see the docstring)
EARLY_RECEIPT_WINDOW = 600.0  # seconds a receipt may precede the record of its submission
_FINAL_PARTS = "(" + ",".join(f"'{state}'" for state in FINAL_PART_STATES) + ")"
_TOUCHED = (
    "SELECT m.outbox_id FROM outbox_messages m JOIN receipt_batch r "
    "ON r.channel = m.channel AND r.message_id = m.message_id"
)


def broadcast_from(row: Row) -> Broadcast:
    return Broadcast(
        id=row["id"],
        texts=json.loads(row["texts"]),
        fallback_language=row["fallback_language"],
        audience=Audience(
            topics=tuple(json.loads(row["topics"])),
            regions=tuple(json.loads(row["regions"])),
            languages=tuple(json.loads(row["languages"])),
            service=row["service"],
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


class Outbox(People):
    async def create_broadcast(self, new: NewBroadcast, now: float) -> int:
        async with self.transaction("create broadcast") as db:
            broadcast_id: int = await db.fetchval(
                "INSERT INTO broadcasts (texts, fallback_language, topics, regions, languages, "
                "source, author, expires_at, state, created_at, service) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'draft', ?, ?) RETURNING id",
                json.dumps(dict(new.texts), ensure_ascii=False, sort_keys=True),
                new.fallback_language,
                json.dumps(list(new.audience.topics)),
                json.dumps(list(new.audience.regions)),
                json.dumps(list(new.audience.languages)),
                new.source,
                new.author,
                new.expires_at,
                now,
                new.audience.service,
            )
            return broadcast_id

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None:
        row = await self.fetchrow("SELECT * FROM broadcasts WHERE id = ?", broadcast_id)
        return None if row is None else broadcast_from(row)

    async def list_broadcasts(
        self, states: Iterable[str] | None = None, limit: int = 100, service: str | None = None
    ) -> list[Broadcast]:
        conditions, params = list[str](), list[object]()
        if states is not None:
            among, params = self.dialect.any_of("state", list(states), "text")
            conditions.append(among)
        if service is not None:
            conditions.append("service = ?")
            params.append(service)
        where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = await self.fetch(
            f"SELECT * FROM broadcasts {where} ORDER BY id DESC LIMIT ?", *params, limit
        )
        return [broadcast_from(row) for row in rows]

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        expected: str,
        new: str,
        now: float,
        approver: str | None = None,
    ) -> bool:
        stamps = {"approved": "approved_at", "sending": "started_at"}
        sets, args = ["state = ?"], list[object]([new])
        if new in stamps:
            sets.append(f"{stamps[new]} = COALESCE({stamps[new]}, ?)")
            args.append(now)
        if new in ("done", "cancelled"):
            sets.append("finished_at = ?")
            args.append(now)
        if approver is not None:
            sets.append("approver = ?")
            args.append(approver)
        async with self.transaction("set broadcast state") as db:
            changed = await db.execute(
                f"UPDATE broadcasts SET {', '.join(sets)} WHERE id = ? AND state = ?",
                *args,
                broadcast_id,
                expected,
            )
            return changed > 0

    async def expand_audience(self, broadcast_id: int, batch_size: int, now: float) -> int:
        async with self.transaction("expand audience") as db:
            row = await db.fetchrow(
                f"SELECT * FROM broadcasts WHERE id = ?{self.dialect.for_update}", broadcast_id
            )
            if row is None or row["expansion_done"]:
                return 0
            broadcast = broadcast_from(row)
            found: list[Row] = []
            if broadcast.audience.topics:
                clause, params = audience_filter(self.dialect, broadcast.audience)
                found = await db.fetch(
                    f"SELECT s.id, s.language FROM subscribers s WHERE s.id > ? AND {clause} "
                    "ORDER BY s.id LIMIT ?",
                    broadcast.expansion_cursor,
                    *params,
                    batch_size,
                )
            await db.executemany(
                "INSERT INTO outbox (broadcast_id, subscriber_id, language, state, created_at) "
                "VALUES (?, ?, ?, 'queued', ?) ON CONFLICT DO NOTHING",
                [(broadcast_id, person["id"], person["language"], now) for person in found],
            )
            cursor = found[-1]["id"] if found else broadcast.expansion_cursor
            await db.execute(
                "UPDATE broadcasts SET expansion_cursor = ?, expansion_done = ? WHERE id = ?",
                cursor,
                len(found) < batch_size,
                broadcast_id,
            )
            return len(found)

    async def claim_outbox(
        self, broadcast_id: int, worker: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedMessage]:
        async with self.transaction("claim outbox") as db:
            # Rows held by a worker that died come back once their lease runs out.
            # (Two statements rather than one OR: each walks the (broadcast, state, id)
            # index in order, where an OR would sort every queued row at each claim.)
            await db.execute(
                "UPDATE outbox SET state = 'queued', claimed_by = NULL "
                "WHERE broadcast_id = ? AND state = 'claimed' AND lease_until < ?",
                broadcast_id,
                now,
            )
            rows = await db.fetch(
                "SELECT o.id, o.subscriber_id, o.language, o.attempts, s.msisdn_sealed "
                "FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id "
                "WHERE o.broadcast_id = ? AND o.state = 'queued' "
                f"ORDER BY o.id LIMIT ?{self.dialect.skip_locked}",
                broadcast_id,
                limit,
            )
            gone = [row["id"] for row in rows if row["msisdn_sealed"] is None]
            live = [row for row in rows if row["msisdn_sealed"] is not None]
            if gone:
                among, params = self.dialect.any_of("id", gone, "bigint")
                await db.execute(
                    "UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
                    f"WHERE {among}",
                    now,
                    *params,
                )
            if live:
                among, params = self.dialect.any_of("id", [row["id"] for row in live], "bigint")
                await db.execute(
                    "UPDATE outbox SET state = 'claimed', claimed_by = ?, lease_until = ?, "
                    f"attempts = attempts + 1 WHERE {among}",
                    worker,
                    now + lease_seconds,
                    *params,
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

    async def release_claims(self, worker: str) -> int:
        """Graceful shutdown: give back the rows ``worker`` claimed but never submitted,
        so another worker takes them now rather than when the lease runs out. Call it
        after the submits in flight have been recorded."""
        async with self.transaction("release claims") as db:
            return await db.execute(
                "UPDATE outbox SET state = 'queued', claimed_by = NULL, lease_until = NULL, "
                "attempts = CASE WHEN attempts > 0 THEN attempts - 1 ELSE 0 END "
                "WHERE state = 'claimed' AND claimed_by = ?",
                worker,
            )

    async def record_submissions(
        self, channel: str, submissions: Sequence[Submission], now: float, max_attempts: int
    ) -> None:
        by_outcome: dict[str, list[Submission]] = {}
        for submission in submissions:
            by_outcome.setdefault(submission.outcome, []).append(submission)
        accepted = sorted(by_outcome.get("accepted", []), key=lambda s: s.outbox_id)
        async with self.transaction("record submissions") as db:
            if accepted:
                await db.lock(_RECEIPTS_AFTER_SUBMISSIONS, shared=True)
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
                    (s.channel or channel, message_id, s.outbox_id, part)
                    for s in accepted
                    for part, message_id in enumerate(s.message_ids)
                ],
            )
            await db.executemany(
                "UPDATE outbox SET state = CASE WHEN attempts >= ? THEN 'failed' ELSE 'queued' "
                "END, final_at = CASE WHEN attempts >= ? THEN CAST(? AS DOUBLE PRECISION) "
                "ELSE NULL END, claimed_by = NULL, lease_until = NULL, error = ? "
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
            # Sent but never answered: it may have gone out, so it is never sent again.
            await db.executemany(
                "UPDATE outbox SET state = 'unknown', final_at = ?, claimed_by = NULL, "
                "lease_until = NULL, error = ? WHERE id = ? AND state = 'claimed'",
                [(now, s.error[:200], s.outbox_id) for s in by_outcome.get("unknown", [])],
            )
            refused = [s.outbox_id for s in by_outcome.get("opted_out", [])]
            if refused:
                await _opt_out_rows(db, refused, now)
            for family in sorted({s.channel or channel for s in accepted}):
                await _apply_early_receipts(db, family, now)

    async def record_deliveries(self, updates: Sequence[DeliveryUpdate]) -> int:
        if not updates:
            return 0
        async with self.transaction("record deliveries") as db:
            await db.lock(_RECEIPTS_AFTER_SUBMISSIONS)
            await db.execute("DELETE FROM receipt_batch")
            await db.executemany(
                "INSERT INTO receipt_batch (channel, message_id, state, error, at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(u.channel, u.message_id, u.state, u.error[:200], u.at) for u in updates],
            )
            await _lock_touched_rows(db)
            await db.execute(
                # A receipt whose id maps to a row already final stays unmatched: the
                # SMSC may have reused the id for a submission not yet recorded.
                "INSERT INTO delivery_events (outbox_id, channel, message_id, state, error, at) "
                "SELECT (SELECT m.outbox_id FROM outbox_messages m JOIN outbox o "
                "ON o.id = m.outbox_id WHERE m.channel = r.channel "
                "AND m.message_id = r.message_id AND o.state = 'submitted'), "
                "r.channel, r.message_id, r.state, r.error, r.at "
                "FROM receipt_batch r ORDER BY r.seq"
            )
            return await _apply_receipt_batch(db)

    async def close_pending(
        self, broadcast_id: int, state: OutboxState, now: float, include_submitted: bool
    ) -> int:
        states = "('queued', 'claimed', 'submitted')" if include_submitted else _UNFINISHED
        async with self.transaction("close pending") as db:
            return await db.execute(
                "UPDATE outbox SET state = ?, final_at = ?, claimed_by = NULL "
                f"WHERE broadcast_id = ? AND state IN {states}",
                state.value,
                now,
                broadcast_id,
            )

    async def close_unconfirmed(
        self, broadcast_id: int, scope: str, submitted_before: float, now: float
    ) -> int:
        prefix = f"{scope}/" if scope else ""
        async with self.transaction("close unconfirmed") as db:
            return await db.execute(
                "UPDATE outbox SET state = 'unknown', final_at = ? "
                "WHERE broadcast_id = ? AND state = 'submitted' AND submitted_at < ? "
                "AND EXISTS (SELECT 1 FROM outbox_messages m WHERE m.outbox_id = outbox.id "
                "AND m.part = 0 AND substr(m.message_id, 1, ?) = ?)",
                now,
                broadcast_id,
                submitted_before,
                len(prefix),
                prefix,
            )

    async def outbox_counts(self, broadcast_id: int) -> OutboxCounts:
        rows = await self.fetch(
            "SELECT state, count(*) FROM outbox WHERE broadcast_id = ? GROUP BY state",
            broadcast_id,
        )
        return OutboxCounts({row[0]: int(row[1]) for row in rows})


async def _opt_out_rows(db: Connection, outbox_ids: list[int], now: float) -> None:
    among, params = db.dialect.any_of("id", [int(i) for i in outbox_ids], "bigint")
    await db.execute(
        "UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
        f"WHERE {among} AND state NOT IN ('delivered', 'failed', 'expired')",
        now,
        *params,
    )
    rows = await db.fetch(f"SELECT DISTINCT subscriber_id FROM outbox WHERE {among}", *params)
    await opt_out_subscribers(db, [row[0] for row in rows], now)


async def _apply_early_receipts(db: Connection, channel: str, now: float) -> None:
    """Receipts that arrived before their submission was recorded (a fast SMSC).
    Only recent ones: an old unmatched receipt must not land on a reused id."""
    since = now - EARLY_RECEIPT_WINDOW
    await db.execute("DELETE FROM receipt_batch")
    early = await db.execute(
        "INSERT INTO receipt_batch (channel, message_id, state, error, at) "
        "SELECT e.channel, e.message_id, e.state, e.error, e.at FROM delivery_events e "
        "JOIN outbox_messages m ON m.channel = e.channel AND m.message_id = e.message_id "
        "JOIN outbox o ON o.id = m.outbox_id AND o.state = 'submitted' "
        "WHERE e.outbox_id IS NULL AND e.channel = ? AND e.at >= ? ORDER BY e.id",
        channel,
        since,
    )
    if not early:
        return  # the common case: no receipt came first
    await db.execute(
        "UPDATE delivery_events SET outbox_id = m.outbox_id FROM outbox_messages m "
        "WHERE m.channel = delivery_events.channel "
        "AND m.message_id = delivery_events.message_id "
        "AND delivery_events.outbox_id IS NULL AND delivery_events.channel = ? "
        "AND delivery_events.at >= ? "
        "AND delivery_events.message_id IN (SELECT message_id FROM receipt_batch)",
        channel,
        since,
    )
    await _apply_receipt_batch(db)


async def _lock_touched_rows(db: Connection) -> None:
    """Lock the outbox rows the batch names, in id order, before reading their parts:
    the counts then see every other transaction's parts of the same rows, and batches
    never deadlock each other. NO KEY UPDATE, because inserting a delivery event holds
    a KEY SHARE lock on its row (the foreign key), which FOR UPDATE would wait on."""
    if db.dialect.for_no_key_update:
        await db.execute(
            f"SELECT id FROM outbox WHERE id IN ({_TOUCHED}) "
            f"ORDER BY id{db.dialect.for_no_key_update}"
        )


async def _apply_receipt_batch(db: Connection) -> int:
    """Move parts named in ``receipt_batch`` forward, then derive their rows' states."""
    await _lock_touched_rows(db)
    matched = await db.execute(
        "UPDATE outbox_messages SET state = (SELECT r.state FROM receipt_batch r "
        "WHERE r.channel = outbox_messages.channel "
        "AND r.message_id = outbox_messages.message_id ORDER BY r.seq DESC LIMIT 1) "
        f"WHERE state NOT IN {_FINAL_PARTS} AND (channel, message_id) IN "
        "(SELECT channel, message_id FROM receipt_batch)"
    )
    refused = [
        row[0]
        for row in await db.fetch(
            f"SELECT DISTINCT o.id FROM outbox o WHERE o.id IN ({_TOUCHED}) "
            "AND o.state = 'submitted' AND EXISTS (SELECT 1 FROM outbox_messages m "
            "WHERE m.outbox_id = o.id AND m.state = 'opted_out')"
        )
    ]
    parts = "FROM outbox_messages m WHERE m.outbox_id = outbox.id AND m.state"
    await db.execute(
        "UPDATE outbox SET "
        f"parts_delivered = (SELECT count(*) {parts} = 'delivered'), "
        "state = CASE "
        f"WHEN EXISTS (SELECT 1 {parts} IN ('failed', 'rejected')) THEN 'failed' "
        f"WHEN EXISTS (SELECT 1 {parts} = 'expired') THEN 'expired' "
        f"WHEN (SELECT count(*) {parts} = 'delivered') >= parts "
        # a message-level receipt (SMPP pool, Africa's Talking) names the first part
        f"OR EXISTS (SELECT 1 {parts} = 'delivered' AND m.part = 0) THEN 'delivered' "
        "ELSE state END, "
        "error = COALESCE((SELECT r.error FROM receipt_batch r JOIN outbox_messages m "
        "ON r.channel = m.channel AND r.message_id = m.message_id "
        "WHERE m.outbox_id = outbox.id AND r.error != '' LIMIT 1), error) "
        f"WHERE id IN ({_TOUCHED}) AND state = 'submitted'"
    )
    await db.execute(
        "UPDATE outbox SET final_at = (SELECT max(r.at) FROM receipt_batch r) "
        f"WHERE id IN ({_TOUCHED}) "
        "AND final_at IS NULL AND state NOT IN ('queued', 'claimed', 'submitted')"
    )
    if refused:
        latest = await db.fetchval("SELECT max(at) FROM receipt_batch")
        await _opt_out_rows(db, refused, float(latest or 0.0))
    return matched
