"""SQLite: subscribers, subscriptions, opt-out and inbound messages."""

from __future__ import annotations

from collections.abc import Sequence

import aiosqlite

from gateway.store.records import Audience, Subscriber, Subscription
from gateway.store.sqlite_base import Row, SQLiteBase, placeholders

_FINAL_FOR_STOP = "('queued', 'claimed')"


def _subscriber(row: Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        msisdn_hash=row["msisdn_hash"],
        language=row["language"],
        channel=row["channel"],
        consent_at=row["consent_at"],
        opted_out_at=row["opted_out_at"],
    )


async def opt_out_subscribers(db: aiosqlite.Connection, ids: Sequence[int], now: float) -> int:
    """STOP for ``ids``: no subscription, no sealed number, no queued message left."""
    if not ids:
        return 0
    marks = placeholders(len(ids))
    await db.execute(f"DELETE FROM subscriptions WHERE subscriber_id IN ({marks})", ids)
    await db.execute(
        f"UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
        f"WHERE subscriber_id IN ({marks}) AND state IN {_FINAL_FOR_STOP}",
        (now, *ids),
    )
    cursor = await db.execute(
        f"UPDATE subscribers SET opted_out_at = ?, msisdn_sealed = NULL, updated_at = ? "
        f"WHERE id IN ({marks}) AND opted_out_at IS NULL",
        (now, now, *ids),
    )
    return cursor.rowcount


def audience_filter(audience: Audience) -> tuple[str, list[object]]:
    """SQL (over ``subscribers s``) selecting active subscribers in ``audience``."""
    params: list[object] = list(audience.topics)
    clause = (
        "s.opted_out_at IS NULL AND s.msisdn_sealed IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM subscriptions sub WHERE sub.subscriber_id = s.id "
        f"AND sub.topic IN ({placeholders(len(audience.topics))})"
    )
    if audience.regions:
        clause += f" AND (sub.region = '' OR sub.region IN ({placeholders(len(audience.regions))}))"
        params.extend(audience.regions)
    clause += ")"
    if audience.languages:
        clause += f" AND s.language IN ({placeholders(len(audience.languages))})"
        params.extend(audience.languages)
    return clause, params


class SQLitePeople(SQLiteBase):
    async def upsert_subscriber(
        self, msisdn_hash: str, msisdn_sealed: bytes, language: str, channel: str, now: float
    ) -> Subscriber:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO subscribers (msisdn_hash, msisdn_sealed, language, channel, "
                "consent_at, opted_out_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?, ?) "
                "ON CONFLICT (msisdn_hash) DO UPDATE SET msisdn_sealed = excluded.msisdn_sealed, "
                "language = excluded.language, channel = excluded.channel, "
                "consent_at = CASE WHEN subscribers.opted_out_at IS NULL "
                "THEN subscribers.consent_at ELSE excluded.consent_at END, "
                "opted_out_at = NULL, updated_at = excluded.updated_at",
                (msisdn_hash, msisdn_sealed, language, channel, now, now, now),
            )
            rows = await db.execute_fetchall(
                "SELECT * FROM subscribers WHERE msisdn_hash = ?", (msisdn_hash,)
            )
        return _subscriber(next(iter(rows)))

    async def get_subscriber(self, msisdn_hash: str) -> Subscriber | None:
        row = await self.fetchone("SELECT * FROM subscribers WHERE msisdn_hash = ?", (msisdn_hash,))
        return None if row is None else _subscriber(row)

    async def set_language(self, msisdn_hash: str, language: str, now: float) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE subscribers SET language = ?, updated_at = ? WHERE msisdn_hash = ?",
                (language, now, msisdn_hash),
            )
            await db.execute(
                "UPDATE subscriptions SET language = ? WHERE subscriber_id = "
                "(SELECT id FROM subscribers WHERE msisdn_hash = ?)",
                (language, msisdn_hash),
            )
            return cursor.rowcount > 0

    async def subscribe(
        self, subscriber_id: int, topic: str, region: str, language: str, now: float
    ) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (subscriber_id, topic, region, language, now),
            )
            return cursor.rowcount > 0

    async def unsubscribe(self, subscriber_id: int, topic: str) -> int:
        async with self.transaction() as db:
            cursor = await db.execute(
                "DELETE FROM subscriptions WHERE subscriber_id = ? AND topic = ?",
                (subscriber_id, topic),
            )
            return cursor.rowcount

    async def subscriptions(self, subscriber_id: int) -> list[Subscription]:
        rows = await self.fetchall(
            "SELECT topic, region, language FROM subscriptions WHERE subscriber_id = ? "
            "ORDER BY topic, region",
            (subscriber_id,),
        )
        return [Subscription(row["topic"], row["region"], row["language"]) for row in rows]

    async def opt_out(self, msisdn_hash: str, now: float) -> bool:
        async with self.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT id FROM subscribers WHERE msisdn_hash = ?", (msisdn_hash,)
                )
            )
            if not rows:
                return False
            return await opt_out_subscribers(db, [rows[0]["id"]], now) > 0

    async def withdraw_opted_out(self, outbox_ids: Sequence[int], now: float) -> set[int]:
        if not outbox_ids:
            return set()
        marks = placeholders(len(outbox_ids))
        # The common case (nobody stopped since the claim) costs one read, no write.
        blocked = await self.fetchall(
            f"SELECT o.id FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id "
            f"WHERE o.id IN ({marks}) AND (o.state != 'claimed' "
            "OR s.opted_out_at IS NOT NULL OR s.msisdn_sealed IS NULL)",
            outbox_ids,
        )
        if not blocked:
            return set()
        async with self.transaction() as db:
            await db.execute(
                f"UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
                f"WHERE id IN ({marks}) AND state IN ('queued', 'claimed') AND subscriber_id IN "
                "(SELECT id FROM subscribers WHERE opted_out_at IS NOT NULL "
                "OR msisdn_sealed IS NULL)",
                (now, *outbox_ids),
            )
            # Also rows a STOP (or a cancel) closed between the claim and now.
            rows = await db.execute_fetchall(
                f"SELECT id FROM outbox WHERE id IN ({marks}) AND state != 'claimed'", outbox_ids
            )
            return {row[0] for row in rows}

    async def audience_size(self, audience: Audience) -> int:
        if not audience.topics:
            return 0
        clause, params = audience_filter(audience)
        row = await self.fetchone(f"SELECT count(*) FROM subscribers s WHERE {clause}", params)
        return int(row[0]) if row else 0

    async def topic_counts(self) -> dict[str, int]:
        rows = await self.fetchall(
            "SELECT sub.topic, count(DISTINCT sub.subscriber_id) FROM subscriptions sub "
            "JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.opted_out_at IS NULL "
            "GROUP BY sub.topic ORDER BY sub.topic"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def has_inbound(self, channel: str, message_id: str) -> bool:
        row = await self.fetchone(
            "SELECT 1 FROM inbound_messages WHERE channel = ? AND message_id = ?",
            (channel, message_id),
        )
        return row is not None

    async def record_inbound(
        self,
        channel: str,
        message_id: str,
        sender_hash: str,
        recipient: str,
        command: str,
        received_at: float,
    ) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO inbound_messages (channel, message_id, sender_hash, recipient, "
                "command, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (channel, message_id, sender_hash, recipient, command, received_at),
            )
            return cursor.rowcount > 0
