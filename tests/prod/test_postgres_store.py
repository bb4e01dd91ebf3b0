"""PostgreSQL store, beyond the shared store suite: several workers at once.

Every test runs against the real local PostgreSQL, in a database of its own
(tests/pg_support.py). "Workers" are separate store objects with separate connection
pools, or a separate process killed with SIGKILL.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.store.migrations import MIGRATIONS
from gateway.store.port import StoreError
from gateway.store.records import Audience, DeliveryUpdate, NewBroadcast, Submission
from gateway.store.sql_store import SQLStore, open_store
from tests.audit_support import seal_at
from tests.pg_support import postgres_database

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
LEASE = 30.0


@pytest.fixture
async def pg_url() -> AsyncIterator[str]:
    async with postgres_database() as url:
        yield url


async def people_and_broadcast(store: SQLStore, count: int) -> int:
    for index in range(count):
        person = await store.upsert_subscriber(f"hash{index}", b"sealed", "en", "sms", T0)
        await store.subscribe(person.id, "alerts", "", "en", T0)
    broadcast_id = await store.create_broadcast(
        NewBroadcast({"en": "hi"}, "en", Audience(("alerts",)), "UNHCR", "alice", T0 + 3600), T0
    )
    while await store.expand_audience(broadcast_id, 500, T0):
        pass
    return broadcast_id


async def work(store: SQLStore, broadcast_id: int, worker: str) -> list[int]:
    """Claim and 'send' until nothing is left; returns the ids this worker sent."""
    sent: list[int] = []
    while True:
        claimed = await store.claim_outbox(broadcast_id, worker, 25, T0, LEASE)
        if not claimed:
            return sent
        await asyncio.sleep(0)  # let the other worker in between claim and submit
        await store.record_submissions(
            "smpp:op1",
            [Submission(c.outbox_id, "accepted", (f"{worker}-{c.outbox_id}",)) for c in claimed],
            T0 + 1,
            max_attempts=3,
        )
        sent.extend(c.outbox_id for c in claimed)


async def test_one_history_renders_the_same_tables_and_columns_on_both_engines(
    pg_url: str, tmp_path: Path
) -> None:
    sqlite = await SQLStore.open(tmp_path / "g.db")
    postgres = await SQLStore.open(pg_url)
    try:
        sqlite_columns = set()
        for (table,) in await sqlite.fetchall(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        ):
            for column in await sqlite.fetchall(f"PRAGMA table_info({table})"):
                sqlite_columns.add((table, column["name"], bool(column["notnull"])))
        postgres_columns = {
            (row[0], row[1], row[2] == "NO")
            for row in await postgres.fetch(
                "SELECT table_name, column_name, is_nullable FROM information_schema.columns "
                "WHERE table_schema = 'public'"
            )
        }
        # SQLite reports INTEGER PRIMARY KEY columns as nullable
        assert {(t, c) for t, c, _ in sqlite_columns} == {(t, c) for t, c, _ in postgres_columns}
        assert {x for x in sqlite_columns if x[2]} <= postgres_columns
    finally:
        await sqlite.close()
        await postgres.close()


async def test_two_workers_split_a_broadcast_with_no_row_twice_and_none_left(
    pg_url: str,
) -> None:
    first, second = await SQLStore.open(pg_url), await SQLStore.open(pg_url)
    try:
        broadcast_id = await people_and_broadcast(first, 600)
        sent_a, sent_b = await asyncio.gather(
            work(first, broadcast_id, "a"), work(second, broadcast_id, "b")
        )
        counts = await first.outbox_counts(broadcast_id)
        attempts = await first.fetch("SELECT attempts FROM outbox")
    finally:
        await first.close()
        await second.close()
    everything = sent_a + sent_b
    assert len(everything) == len(set(everything)) == 600
    assert sent_a and sent_b  # both did part of the work
    assert counts.counts == {"submitted": 600}
    assert {row[0] for row in attempts} == {1}


async def test_a_claim_skips_rows_locked_by_another_transaction_without_waiting(
    pg_url: str,
) -> None:
    store = await SQLStore.open(pg_url)
    other = await asyncpg.connect(pg_url)
    try:
        broadcast_id = await people_and_broadcast(store, 10)
        transaction = other.transaction()
        await transaction.start()
        locked = await other.fetch("SELECT id FROM outbox ORDER BY id LIMIT 4 FOR UPDATE")
        async with asyncio.timeout(10):  # would hang without SKIP LOCKED
            claimed = await store.claim_outbox(broadcast_id, "w", 100, T0, LEASE)
        await transaction.rollback()
    finally:
        await other.close()
        await store.close()
    assert {c.outbox_id for c in claimed}.isdisjoint({row[0] for row in locked})
    assert len(claimed) == 6


CLAIM_AND_DIE = """
import asyncio, os, signal, sys
from gateway.store.sql_store import SQLStore

async def main(url, broadcast_id):
    store = await SQLStore.open(url)
    claimed = await store.claim_outbox(broadcast_id, "doomed", 40, {t0}, {lease})
    print(",".join(str(c.outbox_id) for c in claimed), flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # dies holding the claims, before any submit

asyncio.run(main(sys.argv[1], int(sys.argv[2])))
"""


async def test_rows_of_a_killed_worker_are_taken_over_after_their_lease(pg_url: str) -> None:
    store = await SQLStore.open(pg_url)
    try:
        broadcast_id = await people_and_broadcast(store, 100)
        child = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLAIM_AND_DIE.format(t0=T0, lease=LEASE),
            pg_url,
            str(broadcast_id),
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
        )
        out, _ = await asyncio.wait_for(child.communicate(), 60)
        assert child.returncode == -signal.SIGKILL
        last_line = out.decode().strip().splitlines()[-1]  # after any log lines
        orphaned = {int(value) for value in last_line.split(",")}
        assert len(orphaned) == 40

        # while the lease holds, the survivor sends everything else and nothing of those
        sent_now = await work(store, broadcast_id, "survivor")
        assert len(sent_now) == 60 and orphaned.isdisjoint(sent_now)
        # once it has run out, the orphaned rows come back
        later = T0 + LEASE + 1
        taken_over = await store.claim_outbox(broadcast_id, "survivor", 100, later, LEASE)
        assert {c.outbox_id for c in taken_over} == orphaned
        assert {c.attempts for c in taken_over} == {2}
        await store.record_submissions(
            "smpp:op1",
            [Submission(c.outbox_id, "accepted", (f"late-{c.outbox_id}",)) for c in taken_over],
            later,
            max_attempts=3,
        )
        counts = await store.outbox_counts(broadcast_id)
    finally:
        await store.close()
    assert counts.counts == {"submitted": 100}


async def test_receipts_for_two_parts_applied_at_once_still_deliver_the_row(
    pg_url: str,
) -> None:
    first, second = await SQLStore.open(pg_url), await SQLStore.open(pg_url)
    try:
        broadcast_id = await people_and_broadcast(first, 30)
        claimed = await first.claim_outbox(broadcast_id, "w", 100, T0, LEASE)
        await first.record_submissions(
            "smpp:op1",
            [
                Submission(c.outbox_id, "accepted", (f"{c.outbox_id}.1", f"{c.outbox_id}.2"))
                for c in claimed
            ],
            T0 + 1,
            max_attempts=3,
        )
        for message in claimed:  # each part's receipt through a different worker, at once
            await asyncio.gather(
                first.record_deliveries(
                    [DeliveryUpdate("smpp:op1", f"{message.outbox_id}.1", "delivered", at=T0 + 2)]
                ),
                second.record_deliveries(
                    [DeliveryUpdate("smpp:op1", f"{message.outbox_id}.2", "delivered", at=T0 + 2)]
                ),
            )
        counts = await first.outbox_counts(broadcast_id)
    finally:
        await first.close()
        await second.close()
    assert counts.counts == {"delivered": 30}


async def test_concurrent_audit_appends_keep_one_unbroken_chain(
    pg_url: str, tmp_path: Path
) -> None:
    # Two processes' stores, one anchor file: their checkpoints may land out of order.
    first = await SQLStore.open(pg_url, seal_at(tmp_path))
    second = await SQLStore.open(pg_url, seal_at(tmp_path))
    try:
        await asyncio.gather(
            *(
                store.append_audit(f"op{index}", "login", f"operator:{index}", {"i": index}, T0)
                for index in range(20)
                for store in (first, second)
            )
        )
        check = await first.verify_audit_log()
    finally:
        await first.close()
        await second.close()
    assert check.ok and check.checked == 40
    assert check.checkpoint is not None and check.checkpoint.rows == 40


async def test_audit_log_refuses_update_delete_and_truncate(pg_url: str, tmp_path: Path) -> None:
    store = await SQLStore.open(pg_url, seal_at(tmp_path))
    try:
        await store.append_audit("alice", "alert.approve", "broadcast:1", {}, T0)
        for statement in (
            "UPDATE audit_log SET actor = 'mallory'",
            "DELETE FROM audit_log",
            "TRUNCATE audit_log",
        ):
            with pytest.raises(StoreError, match="append-only"):
                await store.fetchall(statement)
        assert len(await store.audit_entries()) == 1
    finally:
        await store.close()


async def test_audit_chain_detects_a_row_changed_behind_the_trigger(
    pg_url: str, tmp_path: Path
) -> None:
    store = await SQLStore.open(pg_url, seal_at(tmp_path))
    try:
        for index in range(6):
            await store.append_audit("alice", "alert.approve", f"broadcast:{index}", {}, T0)
        owner = await asyncpg.connect(pg_url)  # the table owner can switch triggers off
        try:
            await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER audit_log_no_update")
            await owner.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
            await owner.execute("DELETE FROM audit_log WHERE id = 6")
        finally:
            await owner.close()
        check = await store.verify_audit_chain()
    finally:
        await store.close()
    assert not check.ok and check.broken_at == 4 and check.checked == 3


async def test_workers_starting_together_migrate_once(pg_url: str) -> None:
    stores = await asyncio.gather(*(SQLStore.open(pg_url) for _ in range(4)))
    try:
        versions = await stores[0].fetch("SELECT version FROM schema_migrations")
    finally:
        for store in stores:
            await store.close()
    assert [row[0] for row in versions] == [migration.version for migration in MIGRATIONS]


async def test_two_approvals_at_once_leave_one_published_version(pg_url: str) -> None:
    first, second = await SQLStore.open(pg_url), await SQLStore.open(pg_url)
    try:
        drafts = [await first.create_menu_version("main", f"v{n}", "ed", T0) for n in range(2)]
        results = await asyncio.gather(
            first.publish_menu_version(drafts[0].id, "ap", T0 + 1),
            second.publish_menu_version(drafts[1].id, "ap", T0 + 1),
        )
        states = Counter(version.state for version in await first.list_menu_versions("main"))
    finally:
        await first.close()
        await second.close()
    assert results == [True, True]
    assert states == {"published": 1, "superseded": 1}


async def test_open_store_picks_the_backend_from_the_url(pg_url: str, tmp_path: Path) -> None:
    postgres = await open_store(pg_url, audit=None)
    sqlite = await open_store(str(tmp_path / "gateway.db"), audit=None)
    try:
        assert postgres.backend == "postgresql" and await postgres.ping()
        assert sqlite.backend == "sqlite" and await sqlite.ping()
        assert (tmp_path / "gateway.db").exists()
    finally:
        await postgres.close()
        await sqlite.close()


async def test_an_unreachable_server_is_a_store_error_without_the_password() -> None:
    password = "pw-that-must-not-leak"
    with pytest.raises(StoreError) as caught:
        await SQLStore.open(f"postgresql://nobody:{password}@127.0.0.1:1/none")
    assert password not in str(caught.value)


async def test_released_claims_go_to_the_next_worker_at_once(pg_url: str) -> None:
    store = await SQLStore.open(pg_url)
    try:
        broadcast_id = await people_and_broadcast(store, 10)
        mine = await store.claim_outbox(broadcast_id, "stopping", 4, T0, LEASE)
        theirs = await store.claim_outbox(broadcast_id, "other", 2, T0, LEASE)
        assert await store.release_claims("stopping") == 4
        assert await store.release_claims("stopping") == 0
        again = await store.claim_outbox(broadcast_id, "next", 100, T0, LEASE)  # lease not over
        still_held = await store.fetch("SELECT id FROM outbox WHERE claimed_by = 'other'")
    finally:
        await store.close()
    assert {c.outbox_id for c in mine} <= {c.outbox_id for c in again}
    assert {c.attempts for c in again if c.outbox_id in {m.outbox_id for m in mine}} == {1}
    assert {row[0] for row in still_held} == {c.outbox_id for c in theirs}
