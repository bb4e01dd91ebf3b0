"""A database made by the per-engine migrations of before the store was unified opens
with today's store, keeps its rows, and ends with the same schema as a fresh one.

The legacy schema is the verbatim text of the two old migration lists
(``tests/store/legacy/``), applied the way the old code applied it, with its
``schema_migrations`` row, and a few rows written by plain SQL as the old store wrote
them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from gateway.store.audit_chain import GENESIS_HASH, RowContent, entry_hash
from gateway.store.migrations import MIGRATIONS
from gateway.store.records import Audience, NewBroadcast, Submission
from gateway.store.sql_store import SQLStore, open_store
from tests.audit_support import seal_at
from tests.pg_support import postgres_database

LEGACY = Path(__file__).parent / "legacy"
T0 = 1_700_000_000.0
FIRST_HASH = entry_hash(
    GENESIS_HASH, RowContent(T0, "cli", "user_add", "operator:ada", {"role": "admin"})
)

LEGACY_ROWS = [
    "INSERT INTO subscribers (msisdn_hash, msisdn_sealed, language, channel, consent_at, "
    "created_at, updated_at) VALUES ('h-old', {sealed}, 'fr', 'sms', {t0}, {t0}, {t0})",
    "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
    "VALUES (1, 'alerts', '', 'fr', {t0})",
    "INSERT INTO operators (username, password_hash, role, disabled, created_at, updated_at) "
    "VALUES ('ada', 'argon2-hash', 'admin', {false}, {t0}, {t0})",
    "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, row_hash) "
    "VALUES ({t0}, 'cli', 'user_add', 'operator:ada', '{{\"role\": \"admin\"}}', "
    f"'{GENESIS_HASH}', '{FIRST_HASH}')",
]


def _sqlite_legacy(path: Path) -> None:
    raw = sqlite3.connect(path)
    raw.executescript((LEGACY / "sqlite_v1.sql").read_text())
    raw.execute(
        "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
    )
    raw.execute("INSERT INTO schema_migrations VALUES (1, strftime('%s','now'))")
    for statement in LEGACY_ROWS:
        raw.execute(statement.format(sealed="x'00ff'", t0=T0, false=0))
    raw.commit()
    raw.close()


async def _postgres_legacy(url: str) -> None:
    raw = await asyncpg.connect(url)
    try:
        await raw.execute((LEGACY / "postgresql_v1.sql").read_text())
        await raw.execute(
            "CREATE TABLE schema_migrations "
            "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
        )
        await raw.execute("INSERT INTO schema_migrations VALUES (1, extract(epoch FROM now()))")
        for statement in LEGACY_ROWS:
            await raw.execute(statement.format(sealed="'\\x00ff'::bytea", t0=T0, false="FALSE"))
    finally:
        await raw.close()


async def _columns(store: SQLStore) -> set[tuple[Any, ...]]:
    if store.backend == "sqlite":
        tables = await store.fetch(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
        found: set[tuple[Any, ...]] = set()
        for (table,) in tables:
            for column in await store.fetch(f"PRAGMA table_info({table})"):
                found.add((table, *tuple(column)[1:]))
        indexes = await store.fetch("SELECT name, sql FROM sqlite_master WHERE type = 'index'")
        return found | {("index", *tuple(row)) for row in indexes}
    columns = await store.fetch(
        "SELECT table_name, column_name, data_type, is_nullable, column_default, "
        "is_identity FROM information_schema.columns WHERE table_schema = 'public'"
    )
    indexes = await store.fetch(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'"
    )
    triggers = await store.fetch(
        "SELECT trigger_name, event_manipulation, action_statement FROM information_schema.triggers"
    )
    return (
        {tuple(row) for row in columns}
        | {("index", *tuple(row)) for row in indexes}
        | {("trigger", *tuple(row)) for row in triggers}
    )


@pytest.fixture(params=["sqlite", "postgresql"])
async def legacy_and_fresh(
    request: pytest.FixtureRequest, tmp_path: Path
) -> AsyncIterator[tuple[str, str]]:
    if request.param == "sqlite":
        _sqlite_legacy(tmp_path / "legacy.db")
        yield str(tmp_path / "legacy.db"), str(tmp_path / "fresh.db")
        return
    async with postgres_database() as legacy, postgres_database() as fresh:
        await _postgres_legacy(legacy)
        yield legacy, fresh


async def test_a_database_of_the_old_migrations_upgrades_in_place(
    legacy_and_fresh: tuple[str, str], tmp_path: Path
) -> None:
    legacy_url, fresh_url = legacy_and_fresh
    store = await open_store(legacy_url, audit=seal_at(tmp_path))
    fresh = await open_store(fresh_url, audit=seal_at(tmp_path / "fresh"))
    try:
        versions = [row[0] for row in await store.fetch("SELECT version FROM schema_migrations")]
        assert versions == [migration.version for migration in MIGRATIONS]
        assert await _columns(store) == await _columns(fresh)

        # the old rows read back, and the new code writes beside them
        operator = await store.get_operator("ada")
        assert operator is not None and operator.role == "admin" and not operator.disabled
        assert await store.update_operator("ada", T0 + 1, disabled=True)
        person = await store.get_subscriber("h-old")
        assert person is not None and person.language == "fr"
        # rows made before several services belong to the default service ("")
        assert [sub.service for sub in await store.subscriptions(person.id)] == [""]
        assert await store.subscriber_counts() == {"": 1}
        assert await store.set_service_role("ada", "work-rights", "approver")
        assert await store.update_operator("ada", T0 + 1, role="none")
        broadcast_id = await store.create_broadcast(
            NewBroadcast({"fr": "salut"}, "fr", Audience(("alerts",)), "UNHCR", "ada", T0 + 99),
            T0,
        )
        assert await store.expand_audience(broadcast_id, 10, T0) == 1
        claimed = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
        assert [c.msisdn_sealed for c in claimed] == [b"\x00\xff"]
        await store.record_submissions(
            "smpp:op1", [Submission(claimed[0].outbox_id, "accepted", ("m1",))], T0, 3
        )
        assert (await store.outbox_counts(broadcast_id)).counts == {"submitted": 1}
        await store.append_audit("cli", "user_disable", "operator:ada", {}, T0 + 1)
        # the old row stays as it was, sealed by the switch-over row, then keyed rows
        check = await store.verify_audit_log()
        assert check.ok and check.checked == 3
        assert check.legacy_rows == 1 and check.keyed_from == 2
    finally:
        await store.close()
        await fresh.close()
