"""The store: the port filled by one SQL database, SQLite or PostgreSQL.

:func:`open_store` picks the engine from ``settings.db_url`` (a ``postgresql://`` URL,
else a SQLite file path), opens its adapter and migrates it. Module map::

    dialect            what differs between the engines, in one object each
    database           the interface queries run on; sqlite_database, postgres_database
    migrations         the one schema history, rendered per engine
    people             subscribers, subscriptions, STOP, inbound dedup
    outbox             broadcasts, outbox claims (SKIP LOCKED + lease), receipts
    operator_security  sign-in counters, console sessions, second factors
    receipt_state      SMPP receipt id formats learned and receipts held, per SMSC
    sql_store (this)   audit log, operators, menu versions, session ends, retention
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from os import PathLike

import structlog

from gateway.store.audit_anchor import AuditAnchor, AuditSeal
from gateway.store.audit_chain import (
    GENESIS_HASH,
    SWITCH_OVER_ACTION,
    SWITCH_OVER_ACTOR,
    RowContent,
    is_keyed,
    keyed_entry_hash,
    seal_checkpoint,
    switch_over_details,
    verify_paged,
)
from gateway.store.base import StoreBase
from gateway.store.database import Connection, Database, Row
from gateway.store.migrations import migrate
from gateway.store.operator_security import OperatorSecurity
from gateway.store.outbox import Outbox
from gateway.store.port import AuditKeyMissing, Store
from gateway.store.receipt_state import ReceiptState
from gateway.store.records import (
    AuditCheckpoint,
    AuditEntry,
    AuditScope,
    ChainCheck,
    MenuVersion,
    Operator,
    RetentionResult,
    SessionEndCount,
)

POSTGRES_SCHEMES = ("postgresql://", "postgres://")
AUDIT_LOCK = 7_201_002  # advisory lock key (PostgreSQL)
log = structlog.get_logger(__name__)


def is_postgres_url(db_url: str) -> bool:
    return db_url.startswith(POSTGRES_SCHEMES)


def _audit(row: Row) -> AuditEntry:
    return AuditEntry(
        id=row["id"],
        at=row["at"],
        actor=row["actor"],
        action=row["action"],
        subject=row["subject"],
        details=json.loads(row["details"]),
        prev_hash=row["prev_hash"],
        row_hash=row["row_hash"],
        service=row["service"],
    )


def _operator(row: Row) -> Operator:
    return Operator(
        id=row["id"],
        username=row["username"],
        password_hash=row["password_hash"],
        role=row["role"],
        disabled=bool(row["disabled"]),
        created_at=row["created_at"],
    )


def _menu(row: Row) -> MenuVersion:
    return MenuVersion(
        id=row["id"],
        menu_name=row["menu_name"],
        tree_yaml=row["tree_yaml"],
        author=row["author"],
        state=row["state"],
        approver=row["approver"],
        created_at=row["created_at"],
        published_at=row["published_at"],
        superseded_at=row["superseded_at"],
        submitted_by=row["submitted_by"],
        submitted_at=row["submitted_at"],
    )


class SQLStore(Outbox, OperatorSecurity, ReceiptState):
    """Everything durable in one database (``settings.db_url``). Audit rows are keyed
    with ``audit`` (:class:`~gateway.store.audit_anchor.AuditSeal`); a store opened
    without it reads and verifies, and refuses to write audit rows."""

    def __init__(self, database: Database, audit: AuditSeal | None = None) -> None:
        StoreBase.__init__(self, database)
        self.audit = audit

    @classmethod
    async def open(cls, db_url: str | PathLike[str], audit: AuditSeal | None = None) -> SQLStore:
        """Open and migrate the database at ``db_url`` (a path or a ``postgresql://``
        URL)."""
        url = str(db_url)
        database: Database
        if is_postgres_url(url):
            from gateway.store.postgres_database import PostgresDatabase

            database = await PostgresDatabase.open(url)
        else:
            from gateway.store.sqlite_database import SQLiteDatabase

            database = await SQLiteDatabase.open(url)
        try:
            await migrate(database)
            if audit is not None and audit.anchor is not None:
                audit.anchor.prepare()
        except BaseException:
            await database.close()
            raise
        return cls(database, audit)

    # -- audit log -------------------------------------------------------------------

    async def append_audit(
        self,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, object],
        now: float,
        service: str | None = None,
    ) -> AuditEntry:
        if self.audit is None:
            raise AuditKeyMissing("append audit: this process has no audit key")
        key = self.audit.key
        # Round-trip through JSON so the hash is computed over what is stored.
        stored = json.loads(json.dumps(dict(details), sort_keys=True, ensure_ascii=False))
        async with self.transaction("append audit") as db:
            # One writer at a time: two appends reading the same last hash would fork
            # the chain.
            await db.lock(AUDIT_LOCK)
            last = await db.fetchrow("SELECT id, row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
            rows = await self._audit_rows(db, last)
            prev_hash = GENESIS_HASH if last is None else last["row_hash"]
            if rows > 0 and not is_keyed(prev_hash):
                # The first keyed write to a log of unkeyed rows: the switch-over row
                # seals them as they are (never re-hashed, see audit_chain).
                sealed = switch_over_details(rows, prev_hash)
                switch_over = await self._insert_audit(
                    db,
                    key,
                    prev_hash,
                    RowContent(now, SWITCH_OVER_ACTOR, SWITCH_OVER_ACTION, "audit_log", sealed),
                )
                log.warning("audit.keyed_from_now", legacy_rows=rows, row=switch_over.id)
                rows += 1
                prev_hash = switch_over.row_hash
            entry = await self._insert_audit(
                db, key, prev_hash, RowContent(now, actor, action, subject, stored, service)
            )
            rows += 1
            await db.execute(
                "UPDATE audit_head SET row_count = ?, last_id = ? WHERE singleton = 1",
                rows,
                entry.id,
            )
        self.audit.checkpoint(seal_checkpoint(key, rows, entry.id, entry.row_hash, now))
        return entry

    async def _audit_rows(self, db: Connection, last: Row | None) -> int:
        """How many rows the log holds, from ``audit_head``; counted again (and said)
        when the head does not name the last row (rows written around the store)."""
        head = await db.fetchrow("SELECT row_count, last_id FROM audit_head WHERE singleton = 1")
        last_id = 0 if last is None else last["id"]
        if head is not None and head["last_id"] == last_id:
            return int(head["row_count"])
        counted = int(await db.fetchval("SELECT COUNT(*) FROM audit_log"))
        log.warning("audit.head_recounted", rows=counted, last_id=last_id)
        return counted

    async def _insert_audit(
        self, db: Connection, key: bytes, prev_hash: str, row: RowContent
    ) -> AuditEntry:
        row_hash = keyed_entry_hash(key, prev_hash, row)
        entry_id: int = await db.fetchval(
            "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, row_hash,"
            " service) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            row.at,
            row.actor,
            row.action,
            row.subject,
            json.dumps(row.details, sort_keys=True, ensure_ascii=False),
            prev_hash,
            row_hash,
            row.service,
        )
        return AuditEntry(
            entry_id,
            row.at,
            row.actor,
            row.action,
            row.subject,
            row.details,
            prev_hash,
            row_hash,
            row.service,
        )

    async def audit_entries(self, after_id: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = await self.fetch(
            "SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", after_id, limit
        )
        return [_audit(row) for row in rows]

    async def audit_entries_before(
        self, before_id: int | None = None, limit: int = 200, scope: AuditScope | None = None
    ) -> list[AuditEntry]:
        """Newest first, from just below ``before_id`` (the newest when None): a cursor
        that walks the whole log, however long, one page at a time; with ``scope``, only
        the rows it lets through."""
        before = before_id if before_id is not None else 2**62
        if scope is None:
            rows = await self.fetch(
                "SELECT * FROM audit_log WHERE id < ? ORDER BY id DESC LIMIT ?", before, limit
            )
            return [_audit(row) for row in rows]
        # One branch per service (and for the rows about none), each walking the
        # (service, id) index backwards for at most a page, merged: an OR over the
        # whole log would make both engines gather every matching row, then sort.
        branches: list[tuple[str, tuple[object, ...]]] = [
            ("service = ?", (key,)) for key in scope.services
        ]
        if scope.unscoped:
            branches.append(("service IS NULL", ()))
        else:
            branches += [("service IS NULL AND actor = ?", (actor,)) for actor in scope.own_actors]
        if not branches:
            return []
        params: list[object] = []
        parts = []
        for number, (condition, args) in enumerate(branches):
            parts.append(
                f"SELECT * FROM (SELECT * FROM audit_log WHERE {condition} AND id < ? "
                f"ORDER BY id DESC LIMIT ?) AS branch{number}"
            )
            params += [*args, before, limit]
        rows = await self.fetch(
            " UNION ALL ".join(parts) + " ORDER BY id DESC LIMIT ?", *params, limit
        )
        return [_audit(row) for row in rows]

    async def verify_audit_chain(self, checkpoint: AuditCheckpoint | None = None) -> ChainCheck:
        """Walk the chain with this store's key; with ``checkpoint``, also check that the
        log still holds what it recorded."""
        key = None if self.audit is None else self.audit.key
        return await verify_paged(self.audit_entries, key, checkpoint)

    async def verify_audit_log(self, anchor: AuditAnchor | None = None) -> ChainCheck:
        """The chain, checked against the newest checkpoint of ``anchor`` (default: this
        store's own anchor file). A log with keyed rows and no anchor to compare with
        fails: rows deleted from its end could not be seen."""
        if self.audit is None:
            return ChainCheck(
                False, 0, None, "no audit key was given: keyed rows cannot be checked"
            )
        anchor = anchor or self.audit.anchor
        if anchor is None:
            return await self.verify_audit_chain()
        if not anchor.exists():
            check = await self.verify_audit_chain()
            if check.ok and check.keyed_from is not None:
                return ChainCheck(
                    False,
                    check.checked,
                    None,
                    f"the anchor file {anchor.path} is missing: the log has keyed rows, "
                    "so it had checkpoints; rows deleted from its end could not be seen",
                    check.legacy_rows,
                    check.keyed_from,
                )
            return check
        try:
            reading = anchor.read(self.audit.key)
        except OSError as exc:
            return ChainCheck(
                False, 0, None, f"the anchor file {anchor.path} cannot be read: {exc.strerror}"
            )
        check = await self.verify_audit_chain(reading.newest)
        if check.ok and reading.newest is None and check.keyed_from is not None:
            return ChainCheck(
                False,
                check.checked,
                None,
                f"the anchor file {anchor.path} holds no checkpoint: the log has keyed "
                "rows, so it had some; rows deleted from its end could not be seen",
                check.legacy_rows,
                check.keyed_from,
            )
        if check.ok and reading.problem:
            return ChainCheck(
                False,
                check.checked,
                None,
                f"{reading.problem} ({anchor.path})",
                check.legacy_rows,
                check.keyed_from,
                check.checkpoint,
            )
        return check

    # -- operators -------------------------------------------------------------------

    async def create_operator(
        self, username: str, password_hash: str, role: str, now: float
    ) -> Operator:
        async with self.transaction("create operator") as db:
            operator_id: int = await db.fetchval(
                "INSERT INTO operators (username, password_hash, role, disabled, created_at, "
                "updated_at) VALUES (?, ?, ?, FALSE, ?, ?) RETURNING id",
                username,
                password_hash,
                role,
                now,
                now,
            )
        return Operator(operator_id, username, password_hash, role, False, now)

    async def get_operator(self, username: str) -> Operator | None:
        row = await self.fetchrow("SELECT * FROM operators WHERE username = ?", username)
        return None if row is None else _operator(row)

    async def list_operators(self) -> list[Operator]:
        return [_operator(row) for row in await self.fetch("SELECT * FROM operators ORDER BY id")]

    async def update_operator(
        self,
        username: str,
        now: float,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> bool:
        async with self.transaction("update operator") as db:
            changed = await db.execute(
                "UPDATE operators SET password_hash = COALESCE(?, password_hash), "
                "role = COALESCE(?, role), disabled = COALESCE(?, disabled), updated_at = ? "
                "WHERE username = ?",
                password_hash,
                role,
                disabled,
                now,
                username,
            )
            if changed > 0 and (password_hash or role or disabled):
                # A new password, a role change or a disable ends the account's sessions
                # in the same transaction: at once, on every worker.
                await db.execute("DELETE FROM operator_sessions WHERE username = ?", username)
            return changed > 0

    async def service_roles(self, username: str) -> dict[str, str]:
        rows = await self.fetch(
            "SELECT service, role FROM operator_roles WHERE username = ? ORDER BY service",
            username,
        )
        return {row[0]: row[1] for row in rows}

    async def set_service_role(self, username: str, service: str, role: str | None) -> bool:
        async with self.transaction("set service role") as db:
            before = await db.fetchval(
                "SELECT role FROM operator_roles WHERE username = ? AND service = ?",
                username,
                service,
            )
            if before == role:
                return False
            if role is None:
                await db.execute(
                    "DELETE FROM operator_roles WHERE username = ? AND service = ?",
                    username,
                    service,
                )
            else:
                await db.execute(
                    "INSERT INTO operator_roles (username, service, role) VALUES (?, ?, ?) "
                    "ON CONFLICT (username, service) DO UPDATE SET role = excluded.role",
                    username,
                    service,
                    role,
                )
            # A role change ends the account's sessions at once, on every worker.
            await db.execute("DELETE FROM operator_sessions WHERE username = ?", username)
            return True

    # -- menu versions ---------------------------------------------------------------

    async def create_menu_version(
        self, menu_name: str, tree_yaml: str, author: str, now: float, *, submitted: bool = False
    ) -> MenuVersion:
        by, at = (author, now) if submitted else (None, None)
        async with self.transaction("create menu version") as db:
            version_id: int = await db.fetchval(
                "INSERT INTO menu_versions "
                "(menu_name, tree_yaml, author, state, created_at, submitted_by, submitted_at) "
                "VALUES (?, ?, ?, 'draft', ?, ?, ?) RETURNING id",
                menu_name,
                tree_yaml,
                author,
                now,
                by,
                at,
            )
        return MenuVersion(
            version_id, menu_name, tree_yaml, author, "draft", None, now, None, None, by, at
        )

    async def submit_menu_version(self, version_id: int, who: str, now: float) -> bool:
        async with self.transaction("submit menu version") as db:
            changed = await db.execute(
                "UPDATE menu_versions SET submitted_by = ?, submitted_at = ? "
                "WHERE id = ? AND state = 'draft' AND submitted_at IS NULL",
                who,
                now,
                version_id,
            )
        return bool(changed)

    async def get_menu_version(self, version_id: int) -> MenuVersion | None:
        row = await self.fetchrow("SELECT * FROM menu_versions WHERE id = ?", version_id)
        return None if row is None else _menu(row)

    async def list_menu_versions(self, menu_name: str) -> list[MenuVersion]:
        rows = await self.fetch(
            "SELECT * FROM menu_versions WHERE menu_name = ? ORDER BY id DESC", menu_name
        )
        return [_menu(row) for row in rows]

    async def published_menu(self, menu_name: str) -> MenuVersion | None:
        row = await self.fetchrow(
            "SELECT * FROM menu_versions WHERE menu_name = ? AND state = 'published' "
            "ORDER BY id DESC LIMIT 1",
            menu_name,
        )
        return None if row is None else _menu(row)

    async def publish_menu_version(self, version_id: int, approver: str, now: float) -> bool:
        async with self.transaction("publish menu version") as db:
            menu_name = await db.fetchval(
                "SELECT menu_name FROM menu_versions WHERE id = ?", version_id
            )
            if menu_name is None:
                return False
            # Two approvals of two drafts of one menu at once must not leave two published.
            await db.lock_name("menu:" + menu_name)
            still_draft = await db.fetchval(
                "SELECT 1 FROM menu_versions WHERE id = ? AND state = 'draft'", version_id
            )
            if still_draft is None:
                return False
            await db.execute(
                "UPDATE menu_versions SET state = 'superseded', superseded_at = ? "
                "WHERE menu_name = ? AND state = 'published'",
                now,
                menu_name,
            )
            await db.execute(
                "UPDATE menu_versions SET state = 'published', approver = ?, published_at = ? "
                "WHERE id = ?",
                approver,
                now,
                version_id,
            )
            return True

    # -- USSD session ends -----------------------------------------------------------

    async def record_session_end(
        self, day: str, screen_id: str, status: str, count: int = 1, service: str = ""
    ) -> None:
        async with self.transaction("record session end") as db:
            await db.execute(
                "INSERT INTO session_ends (service, day, screen_id, status, count) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (service, day, screen_id, status) "
                "DO UPDATE SET count = session_ends.count + excluded.count",
                service,
                day,
                screen_id,
                status,
                count,
            )

    async def session_end_counts(self, since_day: str, service: str = "") -> list[SessionEndCount]:
        rows = await self.fetch(
            "SELECT day, screen_id, status, count, service FROM session_ends "
            "WHERE day >= ? AND service = ? ORDER BY day, screen_id, status",
            since_day,
            service,
        )
        return [SessionEndCount(row[0], row[1], row[2], int(row[3]), row[4]) for row in rows]

    # -- retention -------------------------------------------------------------------

    async def purge(self, delivery_before: float, optout_before: float) -> RetentionResult:
        old_rows = (
            "SELECT id FROM outbox WHERE final_at IS NOT NULL AND final_at < ? "
            "AND state IN ('delivered', 'failed', 'expired', 'opted_out', 'cancelled')"
        )
        async with self.transaction("purge") as db:
            events = await db.execute(
                f"DELETE FROM delivery_events WHERE at < ? OR outbox_id IN ({old_rows})",
                delivery_before,
                delivery_before,
            )
            await db.execute(
                f"DELETE FROM outbox_messages WHERE outbox_id IN ({old_rows})", delivery_before
            )
            outbox = await db.execute(
                f"DELETE FROM outbox WHERE id IN ({old_rows})", delivery_before
            )
            inbound = await db.execute(
                "DELETE FROM inbound_messages WHERE received_at < ?", delivery_before
            )
            # An opted-out person's rows go with them (ON DELETE CASCADE on the outbox).
            people = await db.execute(
                "DELETE FROM subscribers WHERE opted_out_at IS NOT NULL AND opted_out_at < ?",
                optout_before,
            )
        return RetentionResult(
            outbox_rows=outbox,
            delivery_events=events,
            inbound_messages=inbound,
            subscribers=people,
        )


async def open_store(db_url: str, *, audit: AuditSeal | None) -> SQLStore:
    """The store for ``settings.db_url``: PostgreSQL for a ``postgresql://`` URL, else
    the SQLite file at that path. Opened and migrated; close it with ``close()``.
    ``audit`` (:func:`gateway.store.audit_anchor.audit_seal`) keys and anchors the
    audit rows this process writes; None only for a process that writes none."""
    return await SQLStore.open(db_url, audit)


def _implements_the_port(store: SQLStore) -> Store:
    """Never called: mypy checks here that SQLStore fills the whole store port."""
    return store
