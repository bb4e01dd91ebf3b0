"""The SQLite store: the port filled by one file. Also the audit log, the console's
tables (operators, menu versions, USSD session ends) and the retention purge."""

from __future__ import annotations

import json
from collections.abc import Mapping

from gateway.store.audit_chain import GENESIS_HASH, entry_hash, verify_paged
from gateway.store.records import (
    AuditEntry,
    ChainCheck,
    MenuVersion,
    Operator,
    RetentionResult,
    SessionEndCount,
)
from gateway.store.sqlite_base import Row
from gateway.store.sqlite_outbox import SQLiteOutbox
from gateway.store.sqlite_people import SQLitePeople


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
    )


class SQLiteStore(SQLitePeople, SQLiteOutbox):
    """Everything in one SQLite file (``settings.db_url``)."""

    # -- audit log -------------------------------------------------------------------

    async def append_audit(
        self, actor: str, action: str, subject: str, details: Mapping[str, object], now: float
    ) -> AuditEntry:
        details = dict(details)
        # Round-trip through JSON so the hash is computed over what is stored.
        details = json.loads(json.dumps(details, sort_keys=True, ensure_ascii=False))
        async with self.transaction() as db:
            rows = list(
                await db.execute_fetchall("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
            )
            prev_hash = rows[0][0] if rows else GENESIS_HASH
            row_hash = entry_hash(prev_hash, now, actor, action, subject, details)
            cursor = await db.execute(
                "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, row_hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    now,
                    actor,
                    action,
                    subject,
                    json.dumps(details, sort_keys=True, ensure_ascii=False),
                    prev_hash,
                    row_hash,
                ),
            )
            assert cursor.lastrowid is not None
            entry_id = cursor.lastrowid
        return AuditEntry(entry_id, now, actor, action, subject, details, prev_hash, row_hash)

    async def audit_entries(self, after_id: int = 0, limit: int = 1000) -> list[AuditEntry]:
        rows = await self.fetchall(
            "SELECT * FROM audit_log WHERE id > ? ORDER BY id LIMIT ?", (after_id, limit)
        )
        return [_audit(row) for row in rows]

    async def verify_audit_chain(self) -> ChainCheck:
        return await verify_paged(self.audit_entries)

    # -- operators -------------------------------------------------------------------

    async def create_operator(
        self, username: str, password_hash: str, role: str, now: float
    ) -> Operator:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO operators (username, password_hash, role, disabled, created_at, "
                "updated_at) VALUES (?, ?, ?, 0, ?, ?)",
                (username, password_hash, role, now, now),
            )
            assert cursor.lastrowid is not None
            return Operator(cursor.lastrowid, username, password_hash, role, False, now)

    async def get_operator(self, username: str) -> Operator | None:
        row = await self.fetchone("SELECT * FROM operators WHERE username = ?", (username,))
        return None if row is None else _operator(row)

    async def list_operators(self) -> list[Operator]:
        return [
            _operator(row) for row in await self.fetchall("SELECT * FROM operators ORDER BY id")
        ]

    async def update_operator(
        self,
        username: str,
        now: float,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> bool:
        async with self.transaction() as db:
            cursor = await db.execute(
                "UPDATE operators SET password_hash = COALESCE(?, password_hash), "
                "role = COALESCE(?, role), disabled = COALESCE(?, disabled), updated_at = ? "
                "WHERE username = ?",
                (
                    password_hash,
                    role,
                    None if disabled is None else int(disabled),
                    now,
                    username,
                ),
            )
            return cursor.rowcount > 0

    # -- menu versions ---------------------------------------------------------------

    async def create_menu_version(
        self, menu_name: str, tree_yaml: str, author: str, now: float
    ) -> MenuVersion:
        async with self.transaction() as db:
            cursor = await db.execute(
                "INSERT INTO menu_versions (menu_name, tree_yaml, author, state, created_at) "
                "VALUES (?, ?, ?, 'draft', ?)",
                (menu_name, tree_yaml, author, now),
            )
            assert cursor.lastrowid is not None
            return MenuVersion(
                cursor.lastrowid, menu_name, tree_yaml, author, "draft", None, now, None, None
            )

    async def get_menu_version(self, version_id: int) -> MenuVersion | None:
        row = await self.fetchone("SELECT * FROM menu_versions WHERE id = ?", (version_id,))
        return None if row is None else _menu(row)

    async def list_menu_versions(self, menu_name: str) -> list[MenuVersion]:
        rows = await self.fetchall(
            "SELECT * FROM menu_versions WHERE menu_name = ? ORDER BY id DESC", (menu_name,)
        )
        return [_menu(row) for row in rows]

    async def published_menu(self, menu_name: str) -> MenuVersion | None:
        row = await self.fetchone(
            "SELECT * FROM menu_versions WHERE menu_name = ? AND state = 'published' "
            "ORDER BY id DESC LIMIT 1",
            (menu_name,),
        )
        return None if row is None else _menu(row)

    async def publish_menu_version(self, version_id: int, approver: str, now: float) -> bool:
        async with self.transaction() as db:
            rows = list(
                await db.execute_fetchall(
                    "SELECT menu_name FROM menu_versions WHERE id = ? AND state = 'draft'",
                    (version_id,),
                )
            )
            if not rows:
                return False
            await db.execute(
                "UPDATE menu_versions SET state = 'superseded', superseded_at = ? "
                "WHERE menu_name = ? AND state = 'published'",
                (now, rows[0][0]),
            )
            await db.execute(
                "UPDATE menu_versions SET state = 'published', approver = ?, published_at = ? "
                "WHERE id = ?",
                (approver, now, version_id),
            )
            return True

    # -- USSD session ends -----------------------------------------------------------

    async def record_session_end(
        self, day: str, screen_id: str, status: str, count: int = 1
    ) -> None:
        async with self.transaction() as db:
            await db.execute(
                "INSERT INTO session_ends (day, screen_id, status, count) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (day, screen_id, status) DO UPDATE SET count = "
                "session_ends.count + excluded.count",
                (day, screen_id, status, count),
            )

    async def session_end_counts(self, since_day: str) -> list[SessionEndCount]:
        rows = await self.fetchall(
            "SELECT day, screen_id, status, count FROM session_ends WHERE day >= ? "
            "ORDER BY day, screen_id, status",
            (since_day,),
        )
        return [SessionEndCount(row[0], row[1], row[2], int(row[3])) for row in rows]

    # -- retention -------------------------------------------------------------------

    async def purge(self, delivery_before: float, optout_before: float) -> RetentionResult:
        async with self.transaction() as db:
            old_rows = (
                "SELECT id FROM outbox WHERE final_at IS NOT NULL AND final_at < ? "
                "AND state IN ('delivered', 'failed', 'expired', 'opted_out', 'cancelled')"
            )
            events = await db.execute(
                f"DELETE FROM delivery_events WHERE at < ? OR outbox_id IN ({old_rows})",
                (delivery_before, delivery_before),
            )
            await db.execute(
                f"DELETE FROM outbox_messages WHERE outbox_id IN ({old_rows})", (delivery_before,)
            )
            outbox = await db.execute(
                f"DELETE FROM outbox WHERE id IN ({old_rows})", (delivery_before,)
            )
            inbound = await db.execute(
                "DELETE FROM inbound_messages WHERE received_at < ?", (delivery_before,)
            )
            # An opted-out person's rows go with them (ON DELETE CASCADE on the outbox).
            people = await db.execute(
                "DELETE FROM subscribers WHERE opted_out_at IS NOT NULL AND opted_out_at < ?",
                (optout_before,),
            )
            return RetentionResult(
                outbox_rows=outbox.rowcount,
                delivery_events=events.rowcount,
                inbound_messages=inbound.rowcount,
                subscribers=people.rowcount,
            )
