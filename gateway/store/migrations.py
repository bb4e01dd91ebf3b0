"""The store's one migration history, for SQLite and PostgreSQL alike.

Each :class:`Migration` is portable DDL whose column types are ``{placeholders}``
rendered per engine by :meth:`gateway.store.dialect.Dialect.ddl` (identity keys,
``DOUBLE PRECISION`` epoch seconds, ``BYTEA``, ``BOOLEAN``), plus, where an engine needs
its own statements (the triggers that make the audit log append-only), those
statements per engine. Versions are applied in order at start-up, once, recorded in
``schema_migrations``; on PostgreSQL under an advisory lock, so workers starting
together migrate once.

Version 1 renders exactly the schema the two per-engine lists created before they were
merged (``tests/store/legacy/`` keeps both texts; a test compares them), so a database
made by either upgrades in place. Add a migration: append a version here, portable DDL
first, and engine-only statements only for what cannot be written once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import structlog

from gateway.store.database import Database
from gateway.store.dialect import Dialect

log = structlog.get_logger(__name__)

MIGRATION_LOCK = 7_201_001  # advisory lock key (PostgreSQL)


@dataclass(frozen=True)
class Migration:
    version: int
    portable: str
    sqlite: str = ""
    postgresql: str = ""

    def script(self, dialect: Dialect) -> str:
        own = self.sqlite if dialect.name == "sqlite" else self.postgresql
        return dialect.ddl(self.portable) + own


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        portable="""
CREATE TABLE subscribers (
    id {id},
    msisdn_hash TEXT NOT NULL UNIQUE,
    msisdn_sealed {blob},
    language TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT '',
    consent_at {time},
    opted_out_at {time},
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL
);
CREATE INDEX subscribers_opted_out ON subscribers (opted_out_at);

CREATE TABLE subscriptions (
    subscriber_id {ref} NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    created_at {time} NOT NULL,
    PRIMARY KEY (subscriber_id, topic, region)
);
CREATE INDEX subscriptions_topic ON subscriptions (topic, region);

CREATE TABLE broadcasts (
    id {id},
    texts TEXT NOT NULL,
    fallback_language TEXT NOT NULL,
    topics TEXT NOT NULL,
    regions TEXT NOT NULL,
    languages TEXT NOT NULL,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    approver TEXT,
    expires_at {time} NOT NULL,
    state TEXT NOT NULL,
    created_at {time} NOT NULL,
    approved_at {time},
    started_at {time},
    finished_at {time},
    expansion_cursor {bigint} NOT NULL DEFAULT 0,
    expansion_done {flag}
);
CREATE INDEX broadcasts_state ON broadcasts (state);

CREATE TABLE outbox (
    id {id},
    broadcast_id {ref} NOT NULL REFERENCES broadcasts (id),
    subscriber_id {ref} NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    parts INTEGER NOT NULL DEFAULT 0,
    parts_delivered INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until {time},
    error TEXT NOT NULL DEFAULT '',
    created_at {time} NOT NULL,
    submitted_at {time},
    final_at {time},
    UNIQUE (broadcast_id, subscriber_id)
);
CREATE INDEX outbox_work ON outbox (broadcast_id, state, id);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id, state);
CREATE INDEX outbox_final ON outbox (final_at);

CREATE TABLE outbox_messages (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    outbox_id {ref} NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX outbox_messages_row ON outbox_messages (outbox_id);

CREATE TABLE delivery_events (
    id {id},
    outbox_id {ref} REFERENCES outbox (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    at {time} NOT NULL
);
CREATE INDEX delivery_events_message ON delivery_events (channel, message_id);
CREATE INDEX delivery_events_at ON delivery_events (at);
CREATE INDEX delivery_events_row ON delivery_events (outbox_id);

CREATE TABLE inbound_messages (
    id {id},
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender_hash TEXT NOT NULL,
    recipient TEXT NOT NULL,
    command TEXT NOT NULL,
    received_at {time} NOT NULL,
    UNIQUE (channel, message_id)
);
CREATE INDEX inbound_messages_at ON inbound_messages (received_at);

CREATE TABLE audit_log (
    id {id},
    at {time} NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL UNIQUE
);

CREATE TABLE operators (
    id {id},
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'approver')),
    disabled {flag},
    created_at {time} NOT NULL,
    updated_at {time} NOT NULL
);

CREATE TABLE menu_versions (
    id {id},
    menu_name TEXT NOT NULL,
    tree_yaml TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'published', 'superseded')),
    approver TEXT,
    created_at {time} NOT NULL,
    published_at {time},
    superseded_at {time}
);
CREATE INDEX menu_versions_name ON menu_versions (menu_name, state);

CREATE TABLE session_ends (
    day TEXT NOT NULL,
    screen_id TEXT NOT NULL,
    status TEXT NOT NULL,
    count {bigint} NOT NULL,
    PRIMARY KEY (day, screen_id, status)
);
""",
        # Refuse UPDATE and DELETE (and TRUNCATE) on the audit log at the database itself.
        sqlite="""
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
""",
        postgresql="""
CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    RAISE EXCEPTION 'audit_log is append-only';
END
$body$;
CREATE TRIGGER audit_log_no_update BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
    FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only();
""",
    ),
    Migration(
        2,
        # The console's security state, shared by every worker (see
        # gateway.store.operator_security): sign-in counters, sessions, second factors.
        portable="""
CREATE TABLE sign_in_counters (
    key TEXT PRIMARY KEY,
    failures {bigint} NOT NULL,
    last_at {time} NOT NULL
);

CREATE TABLE operator_sessions (
    id_hash TEXT PRIMARY KEY,
    username TEXT NOT NULL,
    role TEXT NOT NULL,
    stage TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at {time} NOT NULL,
    last_seen {time} NOT NULL,
    authenticated_at {time} NOT NULL,
    address TEXT NOT NULL DEFAULT '',
    user_agent TEXT NOT NULL DEFAULT '',
    data TEXT NOT NULL DEFAULT '{{}}'
);
CREATE INDEX operator_sessions_user ON operator_sessions (username);

CREATE TABLE operator_factors (
    username TEXT PRIMARY KEY,
    totp_sealed TEXT NOT NULL,
    last_step {bigint} NOT NULL DEFAULT 0,
    recovery_hashes TEXT NOT NULL DEFAULT '[]',
    enrolled_at {time} NOT NULL
);
""",
    ),
    Migration(
        3,
        # Several services on one gateway (gateway.menu.services): subscriptions,
        # drop-off counts and alerts belong to a service; "" is the default service, so
        # every row made before belongs to it. Operators may hold a role per service
        # (operator_roles); an account whose role is 'none' sees only the services it
        # holds a role on. The rebuilt tables keep their rows, indexes and names.
        portable="""
CREATE TABLE subscriptions_by_service (
    subscriber_id {ref} NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    service TEXT NOT NULL DEFAULT '',
    topic TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    created_at {time} NOT NULL,
    PRIMARY KEY (subscriber_id, service, topic, region)
);
INSERT INTO subscriptions_by_service (subscriber_id, service, topic, region, language,
    created_at)
    SELECT subscriber_id, '', topic, region, language, created_at FROM subscriptions;
DROP TABLE subscriptions;
ALTER TABLE subscriptions_by_service RENAME TO subscriptions;
CREATE INDEX subscriptions_topic ON subscriptions (service, topic, region);

CREATE TABLE session_ends_by_service (
    service TEXT NOT NULL DEFAULT '',
    day TEXT NOT NULL,
    screen_id TEXT NOT NULL,
    status TEXT NOT NULL,
    count {bigint} NOT NULL,
    PRIMARY KEY (service, day, screen_id, status)
);
INSERT INTO session_ends_by_service (service, day, screen_id, status, count)
    SELECT '', day, screen_id, status, count FROM session_ends;
DROP TABLE session_ends;
ALTER TABLE session_ends_by_service RENAME TO session_ends;

ALTER TABLE broadcasts ADD COLUMN service TEXT NOT NULL DEFAULT '';
CREATE INDEX broadcasts_service ON broadcasts (service, id);

CREATE TABLE operator_roles (
    username TEXT NOT NULL,
    service TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('editor', 'approver', 'none')),
    PRIMARY KEY (username, service)
);
""",
        # operators.role may now be 'none' (roles on some services only): PostgreSQL
        # replaces the CHECK; SQLite, which cannot, rebuilds the table with its ids.
        sqlite="""
CREATE TABLE operators_with_none (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'approver', 'none')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
INSERT INTO operators_with_none SELECT id, username, password_hash, role, disabled,
    created_at, updated_at FROM operators;
DROP TABLE operators;
ALTER TABLE operators_with_none RENAME TO operators;
""",
        postgresql="""
ALTER TABLE operators DROP CONSTRAINT operators_role_check;
ALTER TABLE operators ADD CONSTRAINT operators_role_check
    CHECK (role IN ('admin', 'editor', 'approver', 'none'));
""",
    ),
    Migration(
        4,
        # Receipt matching that outlives a restart (gateway.store.receipt_state): the
        # id format learned per SMSC account, and the receipts held meanwhile.
        portable="""
CREATE TABLE smpp_receipt_formats (
    scope TEXT PRIMARY KEY,
    receipt_id TEXT NOT NULL,
    learned_at {time} NOT NULL
);

CREATE TABLE smpp_held_receipts (
    id {id},
    scope TEXT NOT NULL,
    receipt_id TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    held_at {time} NOT NULL,
    UNIQUE (scope, receipt_id, state, error)
);
""",
    ),
    Migration(
        5,
        # Review before publish: a draft is submitted for review (by whom, when) once
        # the validator accepts it whole; only a submitted draft may be published.
        portable="""
ALTER TABLE menu_versions ADD COLUMN submitted_by TEXT;
ALTER TABLE menu_versions ADD COLUMN submitted_at {time};
""",
    ),
    Migration(
        6,
        # The keyed audit chain (gateway.store.audit_chain): the row count kept beside
        # the log for the checkpoints, and, at the database too, only keyed rows
        # taken from now on: an older gateway still running would otherwise append
        # unkeyed rows after keyed ones. Old rows stay as they are.
        portable="""
CREATE TABLE audit_head (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    row_count {bigint} NOT NULL,
    last_id {bigint} NOT NULL
);
INSERT INTO audit_head (singleton, row_count, last_id)
    SELECT 1, COUNT(*), COALESCE(MAX(id), 0) FROM audit_log;
""",
        sqlite="""
CREATE TRIGGER audit_log_keyed_only BEFORE INSERT ON audit_log
WHEN NEW.row_hash NOT LIKE 'k1:%'
BEGIN SELECT RAISE(ABORT, 'audit_log takes keyed rows only'); END;
""",
        postgresql="""
CREATE FUNCTION audit_log_keyed_only() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    IF NEW.row_hash NOT LIKE 'k1:%' THEN
        RAISE EXCEPTION 'audit_log takes keyed rows only';
    END IF;
    RETURN NEW;
END
$body$;
CREATE TRIGGER audit_log_keyed_only BEFORE INSERT ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_keyed_only();
""",
    ),
    Migration(
        7,
        # Audit rows know their service (gateway.store.audit_chain): the store key of
        # the service a row is about ("" the default), NULL for a row about none
        # (sign-ins, accounts) and for every row written before. Sealed in the hash of
        # the rows that have one; old rows are not touched (the log is append-only)
        # and verify as before. Adding a nullable column rewrites no row.
        portable="""
ALTER TABLE audit_log ADD COLUMN service TEXT;
CREATE INDEX audit_log_service ON audit_log (service, id);
""",
    ),
)


async def migrate(database: Database) -> list[int]:
    """Apply the versions ``database`` lacks, in one transaction; returns them."""
    dialect = database.dialect
    done: list[int] = []
    async with database.transaction("migrate") as db:
        await db.lock(MIGRATION_LOCK)
        await db.run_script(
            dialect.ddl(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at {time} NOT NULL)"
            )
        )
        applied = {row[0] for row in await db.fetch("SELECT version FROM schema_migrations")}
        for migration in MIGRATIONS:
            if migration.version in applied:
                continue
            await db.run_script(migration.script(dialect))
            await db.execute(
                "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
                migration.version,
                time.time(),
            )
            log.info("store.migrated", version=migration.version, backend=dialect.name)
            done.append(migration.version)
    return done
