"""The audit key and anchor the tests open their stores with (a store without the key
refuses to write audit rows, as it must in production)."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from gateway.store.audit_anchor import AuditAnchor, AuditSeal
from gateway.store.audit_chain import GENESIS_HASH, RowContent, entry_hash, keyed_entry_hash
from gateway.store.sql_store import SQLStore

AUDIT_KEY = b"test audit key, thirty-two bytes or more"
WRONG_KEY = b"a guessed key, thirty-two bytes or more!"


def seal_at(folder: Path, key: bytes = AUDIT_KEY) -> AuditSeal:
    """The test key, with checkpoints appended to ``folder/audit-anchor.jsonl``."""
    return AuditSeal(key, AuditAnchor(folder / "audit-anchor.jsonl"))


@dataclass
class Log:
    url: str
    folder: Path

    async def open(self) -> SQLStore:
        return await SQLStore.open(self.url, seal_at(self.folder))

    @property
    def anchor(self) -> Path:
        return self.folder / "audit-anchor.jsonl"

    async def raw(
        self, *statements: str, args: Sequence[tuple[str, str, int]] | None = None
    ) -> None:
        """Statements run as someone with the database in hand: the append-only
        triggers out of the way."""
        if self.url.startswith("postgresql://"):
            owner = await asyncpg.connect(self.url)
            try:
                await owner.execute("ALTER TABLE audit_log DISABLE TRIGGER USER")
                for statement in statements:
                    await owner.execute(statement)
                for row in args or []:
                    await owner.execute(
                        "UPDATE audit_log SET prev_hash = $1, row_hash = $2 WHERE id = $3", *row
                    )
                await owner.execute("ALTER TABLE audit_log ENABLE TRIGGER USER")
            finally:
                await owner.close()
            return
        with sqlite3.connect(self.url) as db:
            for trigger in ("audit_log_no_update", "audit_log_no_delete", "audit_log_keyed_only"):
                db.execute(f"DROP TRIGGER IF EXISTS {trigger}")
            for statement in statements:
                db.execute(statement)
            for row in args or []:
                db.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE id = ?", row)

    async def rehash(self, make: str) -> None:
        """Every hash recomputed after an edit, as someone without the key would:
        ``plain`` sha256 (the old chain), or HMAC with a guessed key."""
        store = await SQLStore.open(self.url)
        try:
            entries = await store.audit_entries()
        finally:
            await store.close()
        prev, updates = GENESIS_HASH, []
        for entry in entries:
            content = RowContent(entry.at, entry.actor, entry.action, entry.subject, entry.details)
            row_hash = (
                entry_hash(prev, content)
                if make == "plain"
                else keyed_entry_hash(WRONG_KEY, prev, content)
            )
            updates.append((prev, row_hash, entry.id))
            prev = row_hash
        await self.raw(args=updates)
