"""PostgreSQL: subscribers, subscriptions, opt-out and inbound messages.

The same statements as :mod:`gateway.store.sqlite_people`, with ``$n`` parameters and
``= ANY($n)`` for id lists.
"""

from __future__ import annotations

from collections.abc import Sequence

from gateway.store.postgres_base import Connection, PostgresBase, Record, affected, ids_array
from gateway.store.records import Audience, Subscriber, Subscription

_UNSENT = "('queued', 'claimed')"


def subscriber_from(row: Record) -> Subscriber:
    return Subscriber(
        id=row["id"],
        msisdn_hash=row["msisdn_hash"],
        language=row["language"],
        channel=row["channel"],
        consent_at=row["consent_at"],
        opted_out_at=row["opted_out_at"],
    )


async def opt_out_subscribers(db: Connection, ids: Sequence[int], now: float) -> int:
    """STOP for ``ids``: no subscription, no sealed number, no queued message left."""
    if not ids:
        return 0
    wanted = ids_array(ids)
    await db.execute("DELETE FROM subscriptions WHERE subscriber_id = ANY($1::bigint[])", wanted)
    await db.execute(
        "UPDATE outbox SET state = 'opted_out', final_at = $1, claimed_by = NULL "
        f"WHERE subscriber_id = ANY($2::bigint[]) AND state IN {_UNSENT}",
        now,
        wanted,
    )
    status = await db.execute(
        "UPDATE subscribers SET opted_out_at = $1, msisdn_sealed = NULL, updated_at = $1 "
        "WHERE id = ANY($2::bigint[]) AND opted_out_at IS NULL",
        now,
        wanted,
    )
    return affected(status)


def audience_filter(audience: Audience, first: int) -> tuple[str, list[object]]:
    """SQL (over ``subscribers s``) selecting active subscribers in ``audience``;
    its parameters are numbered from ``$first``."""
    params: list[object] = [list(audience.topics)]
    clause = (
        "s.opted_out_at IS NULL AND s.msisdn_sealed IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM subscriptions sub WHERE sub.subscriber_id = s.id "
        f"AND sub.topic = ANY(${first}::text[])"
    )
    if audience.regions:
        params.append(list(audience.regions))
        clause += f" AND (sub.region = '' OR sub.region = ANY(${first + len(params) - 1}::text[]))"
    clause += ")"
    if audience.languages:
        params.append(list(audience.languages))
        clause += f" AND s.language = ANY(${first + len(params) - 1}::text[])"
    return clause, params


class PostgresPeople(PostgresBase):
    async def upsert_subscriber(
        self, msisdn_hash: str, msisdn_sealed: bytes, language: str, channel: str, now: float
    ) -> Subscriber:
        async with self.transaction("upsert subscriber") as db:
            row = await db.fetchrow(
                "INSERT INTO subscribers (msisdn_hash, msisdn_sealed, language, channel, "
                "consent_at, opted_out_at, created_at, updated_at) "
                "VALUES ($1, $2, $3, $4, $5, NULL, $5, $5) "
                "ON CONFLICT (msisdn_hash) DO UPDATE SET msisdn_sealed = excluded.msisdn_sealed, "
                "language = excluded.language, channel = excluded.channel, "
                "consent_at = CASE WHEN subscribers.opted_out_at IS NULL "
                "THEN subscribers.consent_at ELSE excluded.consent_at END, "
                "opted_out_at = NULL, updated_at = excluded.updated_at RETURNING *",
                msisdn_hash,
                msisdn_sealed,
                language,
                channel,
                now,
            )
        return subscriber_from(row)

    async def get_subscriber(self, msisdn_hash: str) -> Subscriber | None:
        row = await self.fetchrow("SELECT * FROM subscribers WHERE msisdn_hash = $1", msisdn_hash)
        return None if row is None else subscriber_from(row)

    async def set_language(self, msisdn_hash: str, language: str, now: float) -> bool:
        async with self.transaction("set language") as db:
            status = await db.execute(
                "UPDATE subscribers SET language = $1, updated_at = $2 WHERE msisdn_hash = $3",
                language,
                now,
                msisdn_hash,
            )
            await db.execute(
                "UPDATE subscriptions SET language = $1 WHERE subscriber_id = "
                "(SELECT id FROM subscribers WHERE msisdn_hash = $2)",
                language,
                msisdn_hash,
            )
            return affected(status) > 0

    async def subscribe(
        self, subscriber_id: int, topic: str, region: str, language: str, now: float
    ) -> bool:
        async with self.transaction("subscribe") as db:
            status = await db.execute(
                "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
                "VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                subscriber_id,
                topic,
                region,
                language,
                now,
            )
            return affected(status) > 0

    async def unsubscribe(self, subscriber_id: int, topic: str) -> int:
        async with self.transaction("unsubscribe") as db:
            status = await db.execute(
                "DELETE FROM subscriptions WHERE subscriber_id = $1 AND topic = $2",
                subscriber_id,
                topic,
            )
            return affected(status)

    async def subscriptions(self, subscriber_id: int) -> list[Subscription]:
        rows = await self.fetch(
            "SELECT topic, region, language FROM subscriptions WHERE subscriber_id = $1 "
            "ORDER BY topic, region",
            subscriber_id,
        )
        return [Subscription(row["topic"], row["region"], row["language"]) for row in rows]

    async def opt_out(self, msisdn_hash: str, now: float) -> bool:
        async with self.transaction("opt out") as db:
            subscriber_id = await db.fetchval(
                "SELECT id FROM subscribers WHERE msisdn_hash = $1 FOR UPDATE", msisdn_hash
            )
            if subscriber_id is None:
                return False
            return await opt_out_subscribers(db, [subscriber_id], now) > 0

    async def withdraw_opted_out(self, outbox_ids: Sequence[int], now: float) -> set[int]:
        if not outbox_ids:
            return set()
        wanted = ids_array(outbox_ids)
        async with self.transaction("withdraw opted out") as db:
            await db.execute(
                "UPDATE outbox SET state = 'opted_out', final_at = $1, claimed_by = NULL "
                f"WHERE id = ANY($2::bigint[]) AND state IN {_UNSENT} AND subscriber_id IN "
                "(SELECT id FROM subscribers WHERE opted_out_at IS NOT NULL "
                "OR msisdn_sealed IS NULL)",
                now,
                wanted,
            )
            # Also rows a STOP (or a cancel) closed between the claim and now.
            rows = await db.fetch(
                "SELECT id FROM outbox WHERE id = ANY($1::bigint[]) AND state != 'claimed'",
                wanted,
            )
            return {row[0] for row in rows}

    async def audience_size(self, audience: Audience) -> int:
        if not audience.topics:
            return 0
        clause, params = audience_filter(audience, 1)
        return int(
            await self.fetchval(f"SELECT count(*) FROM subscribers s WHERE {clause}", *params)
        )

    async def topic_counts(self) -> dict[str, int]:
        rows = await self.fetch(
            "SELECT sub.topic, count(DISTINCT sub.subscriber_id) FROM subscriptions sub "
            "JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.opted_out_at IS NULL "
            "GROUP BY sub.topic ORDER BY sub.topic"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def has_inbound(self, channel: str, message_id: str) -> bool:
        row = await self.fetchrow(
            "SELECT 1 FROM inbound_messages WHERE channel = $1 AND message_id = $2",
            channel,
            message_id,
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
        async with self.transaction("record inbound") as db:
            status = await db.execute(
                "INSERT INTO inbound_messages (channel, message_id, sender_hash, recipient, "
                "command, received_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT DO NOTHING",
                channel,
                message_id,
                sender_hash,
                recipient,
                command,
                received_at,
            )
            return affected(status) > 0
