"""Subscribers, subscriptions, opt-out (STOP) and inbound messages."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeVar

from gateway.store.base import StoreBase
from gateway.store.database import Connection, Row
from gateway.store.dialect import Dialect
from gateway.store.records import Audience, Subscriber, Subscription

UNSENT = "('queued', 'claimed')"


def subscriber_from(row: Row) -> Subscriber:
    return Subscriber(
        id=row["id"],
        msisdn_hash=row["msisdn_hash"],
        language=row["language"],
        channel=row["channel"],
        consent_at=row["consent_at"],
        opted_out_at=row["opted_out_at"],
    )


async def opt_out_subscribers(db: Connection, ids: Sequence[int], now: float) -> int:
    """STOP everywhere for ``ids``: no subscription in any service, no sealed number, no
    queued message left."""
    if not ids:
        return 0
    dialect = db.dialect
    wanted = [int(value) for value in ids]
    among, params = dialect.any_of("subscriber_id", wanted, "bigint")
    await db.execute(f"DELETE FROM subscriptions WHERE {among}", *params)
    await db.execute(
        "UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
        f"WHERE {among} AND state IN {UNSENT}",
        now,
        *params,
    )
    among, params = dialect.any_of("id", wanted, "bigint")
    return await db.execute(
        "UPDATE subscribers SET opted_out_at = ?, msisdn_sealed = NULL, updated_at = ? "
        f"WHERE {among} AND opted_out_at IS NULL",
        now,
        now,
        *params,
    )


async def subscriber_keys_page(db: Connection, after: int, limit: int) -> list[Row]:
    """(id, msisdn_hash, msisdn_sealed) of the next ``limit`` subscribers after id
    ``after``, for key rotation; locked on PostgreSQL so an upsert cannot slip between
    the read and the rewrite."""
    return await db.fetch(
        "SELECT id, msisdn_hash, msisdn_sealed FROM subscribers WHERE id > ? "
        f"ORDER BY id LIMIT ?{db.dialect.for_update}",
        after,
        limit,
    )


PageResult = TypeVar("PageResult")


async def rewrite_subscriber_keys(
    store: StoreBase,
    doing: str,
    batch: int,
    rewrite_page: Callable[[Connection, list[Row]], Awaitable[PageResult]],
) -> AsyncIterator[tuple[int, PageResult]]:
    """Walk every subscriber's (id, msisdn_hash, msisdn_sealed) in id order, one page
    of ``batch`` per transaction, ``rewrite_page`` rewriting inside it; yields the last
    id and ``rewrite_page``'s answer once each page is committed."""
    after = 0
    while True:
        async with store.transaction(doing) as db:
            page = await subscriber_keys_page(db, after, batch)
            if not page:
                return
            result = await rewrite_page(db, page)
        after = int(page[-1][0])
        yield after, result


def audience_filter(dialect: Dialect, audience: Audience) -> tuple[str, list[object]]:
    """SQL (over ``subscribers s``) selecting active subscribers in ``audience``."""
    among, params = dialect.any_of("sub.topic", audience.topics, "text")
    clause = (
        "s.opted_out_at IS NULL AND s.msisdn_sealed IS NOT NULL AND EXISTS ("
        "SELECT 1 FROM subscriptions sub WHERE sub.subscriber_id = s.id "
        f"AND sub.service = ? AND {among}"
    )
    params.insert(0, audience.service)
    if audience.regions:
        among, more = dialect.any_of("sub.region", audience.regions, "text")
        # Only the regions named: "" among them (unknown country) only when chosen.
        clause += f" AND {among}"
        params.extend(more)
    clause += ")"
    if audience.languages:
        among, more = dialect.any_of("s.language", audience.languages, "text")
        clause += f" AND {among}"
        params.extend(more)
    return clause, params


class People(StoreBase):
    async def upsert_subscriber(
        self, msisdn_hash: str, msisdn_sealed: bytes, language: str, channel: str, now: float
    ) -> Subscriber:
        async with self.transaction("upsert subscriber") as db:
            row = await db.fetchrow(
                "INSERT INTO subscribers (msisdn_hash, msisdn_sealed, language, channel, "
                "consent_at, opted_out_at, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, NULL, ?, ?) "
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
                now,
                now,
            )
        assert row is not None  # an upsert always returns its row
        return subscriber_from(row)

    async def get_subscriber(self, msisdn_hash: str) -> Subscriber | None:
        row = await self.fetchrow("SELECT * FROM subscribers WHERE msisdn_hash = ?", msisdn_hash)
        return None if row is None else subscriber_from(row)

    async def set_language(self, msisdn_hash: str, language: str, now: float) -> bool:
        async with self.transaction("set language") as db:
            changed = await db.execute(
                "UPDATE subscribers SET language = ?, updated_at = ? WHERE msisdn_hash = ?",
                language,
                now,
                msisdn_hash,
            )
            await db.execute(
                "UPDATE subscriptions SET language = ? WHERE subscriber_id = "
                "(SELECT id FROM subscribers WHERE msisdn_hash = ?)",
                language,
                msisdn_hash,
            )
            return changed > 0

    async def subscribe(
        self,
        subscriber_id: int,
        topic: str,
        region: str,
        language: str,
        now: float,
        service: str = "",
    ) -> bool:
        async with self.transaction("subscribe") as db:
            added = await db.execute(
                "INSERT INTO subscriptions (subscriber_id, service, topic, region, language, "
                "created_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                subscriber_id,
                service,
                topic,
                region,
                language,
                now,
            )
            return added > 0

    async def unsubscribe(self, subscriber_id: int, topic: str, service: str = "") -> int:
        async with self.transaction("unsubscribe") as db:
            return await db.execute(
                "DELETE FROM subscriptions WHERE subscriber_id = ? AND service = ? AND topic = ?",
                subscriber_id,
                service,
                topic,
            )

    async def subscriptions(self, subscriber_id: int) -> list[Subscription]:
        rows = await self.fetch(
            "SELECT topic, region, language, service FROM subscriptions "
            "WHERE subscriber_id = ? ORDER BY service, topic, region",
            subscriber_id,
        )
        return [
            Subscription(row["topic"], row["region"], row["language"], row["service"])
            for row in rows
        ]

    async def opt_out(self, msisdn_hash: str, now: float, service: str | None = None) -> bool:
        async with self.transaction("opt out") as db:
            subscriber_id = await db.fetchval(
                f"SELECT id FROM subscribers WHERE msisdn_hash = ?{self.dialect.for_update}",
                msisdn_hash,
            )
            if subscriber_id is None:
                return False
            if service is None:
                return await opt_out_subscribers(db, [subscriber_id], now) > 0
            # One service: its subscriptions and its queued messages go at once; a
            # person left with no subscription anywhere is opted out altogether (the
            # sealed number forgotten), as a STOP everywhere would.
            dropped = await db.execute(
                "DELETE FROM subscriptions WHERE subscriber_id = ? AND service = ?",
                subscriber_id,
                service,
            )
            await db.execute(
                "UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
                f"WHERE subscriber_id = ? AND state IN {UNSENT} AND broadcast_id IN "
                "(SELECT id FROM broadcasts WHERE service = ?)",
                now,
                subscriber_id,
                service,
            )
            left = await db.fetchval(
                "SELECT count(*) FROM subscriptions WHERE subscriber_id = ?", subscriber_id
            )
            if not left:
                return await opt_out_subscribers(db, [subscriber_id], now) > 0 or dropped > 0
            return dropped > 0

    async def withdraw_opted_out(self, outbox_ids: Sequence[int], now: float) -> set[int]:
        if not outbox_ids:
            return set()
        among, params = self.dialect.any_of("o.id", [int(i) for i in outbox_ids], "bigint")
        # The common case (nobody stopped since the claim) costs one read, no write.
        blocked = await self.fetch(
            "SELECT o.id FROM outbox o JOIN subscribers s ON s.id = o.subscriber_id "
            f"WHERE {among} AND (o.state != 'claimed' "
            "OR s.opted_out_at IS NOT NULL OR s.msisdn_sealed IS NULL)",
            *params,
        )
        if not blocked:
            return set()
        among, params = self.dialect.any_of("id", [int(i) for i in outbox_ids], "bigint")
        async with self.transaction("withdraw opted out") as db:
            await db.execute(
                "UPDATE outbox SET state = 'opted_out', final_at = ?, claimed_by = NULL "
                f"WHERE {among} AND state IN {UNSENT} AND subscriber_id IN "
                "(SELECT id FROM subscribers WHERE opted_out_at IS NOT NULL "
                "OR msisdn_sealed IS NULL)",
                now,
                *params,
            )
            # Also rows a STOP (or a cancel) closed between the claim and now.
            rows = await db.fetch(
                f"SELECT id FROM outbox WHERE {among} AND state != 'claimed'", *params
            )
            return {row[0] for row in rows}

    async def audience_size(self, audience: Audience) -> int:
        if not audience.topics:
            return 0
        clause, params = audience_filter(self.dialect, audience)
        count = await self.fetchval(f"SELECT count(*) FROM subscribers s WHERE {clause}", *params)
        return int(count or 0)

    async def topic_counts(self, service: str = "") -> dict[str, int]:
        rows = await self.fetch(
            "SELECT sub.topic, count(DISTINCT sub.subscriber_id) FROM subscriptions sub "
            "JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.opted_out_at IS NULL "
            "AND sub.service = ? GROUP BY sub.topic ORDER BY sub.topic",
            service,
        )
        return {row[0]: int(row[1]) for row in rows}

    async def subscriber_counts(self) -> dict[str, int]:
        """Active subscribers per service (store key): an aggregate, never a list."""
        rows = await self.fetch(
            "SELECT sub.service, count(DISTINCT sub.subscriber_id) FROM subscriptions sub "
            "JOIN subscribers s ON s.id = sub.subscriber_id WHERE s.opted_out_at IS NULL "
            "GROUP BY sub.service ORDER BY sub.service"
        )
        return {row[0]: int(row[1]) for row in rows}

    async def has_inbound(self, channel: str, message_id: str) -> bool:
        row = await self.fetchrow(
            "SELECT 1 FROM inbound_messages WHERE channel = ? AND message_id = ?",
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
            added = await db.execute(
                "INSERT INTO inbound_messages (channel, message_id, sender_hash, recipient, "
                "command, received_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
                channel,
                message_id,
                sender_hash,
                recipient,
                command,
                received_at,
            )
            return added > 0
