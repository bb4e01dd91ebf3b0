"""The SQLite connection: open, pragmas, migrations, and serialised transactions.

One aiosqlite connection per process, in WAL mode so the CLI, the HTTP server and the
broadcast worker can share one file (readers never wait for the writer; writers queue
on ``busy_timeout``). ``synchronous=NORMAL`` under WAL survives a killed process
(what the crash tests exercise); only a power cut can lose the last commits.
Every write runs inside ``BEGIN IMMEDIATE`` under an asyncio lock, so coroutines of
one process never interleave statements within a transaction.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiosqlite
import structlog

from gateway.store.migrations import MIGRATIONS, SQLITE_ONLY
from gateway.store.port import StoreConflict, StoreError

log = structlog.get_logger(__name__)

Row = sqlite3.Row


def placeholders(count: int) -> str:
    return ",".join("?" * count)


class SQLiteBase:
    def __init__(
        self,
        connection: aiosqlite.Connection,
        path: str,
        reader: aiosqlite.Connection | None = None,
    ) -> None:
        self._db = connection
        self._reader = reader or connection
        self._path = path
        self._lock = asyncio.Lock()
        self._read_lock = self._lock if reader is None else asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> Any:
        """Open (creating if needed) and migrate the database at ``path``."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        try:
            connection = await _connect(path)
            await connection.execute("PRAGMA journal_mode = WAL")
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database: {exc}") from exc
        store = cls(connection, path)
        await store._migrate()
        if path != ":memory:":
            # A second connection for plain reads: under WAL it never waits for the
            # writer, so status queries stay fast while a broadcast is being written.
            try:
                reader = await _connect(path)
                await reader.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                await connection.close()
                raise StoreError(f"cannot open the database: {exc}") from exc
            store._reader = reader
            store._read_lock = asyncio.Lock()
        return store

    async def ping(self) -> bool:
        """True when the database answers (the readiness check)."""
        await self.fetchall("SELECT 1", ())
        return True

    async def close(self) -> None:
        if self._reader is not self._db:
            await self._reader.close()
        await self._db.close()

    async def _migrate(self) -> None:
        async with self.transaction() as db:
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at REAL NOT NULL)"
            )
            applied = {
                row[0] for row in await db.execute_fetchall("SELECT version FROM schema_migrations")
            }
            extras = dict(SQLITE_ONLY)
            for version, sql in MIGRATIONS:
                if version in applied:
                    continue
                for statement in _statements(sql + extras.get(version, "")):
                    await db.execute(statement)
                await db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) "
                    "VALUES (?, strftime('%s','now'))",
                    (version,),
                )
                log.info("store.migrated", version=version)
            await db.execute(
                "CREATE TEMP TABLE IF NOT EXISTS receipt_batch (seq INTEGER PRIMARY KEY, "
                "channel TEXT, message_id TEXT, state TEXT, error TEXT, at REAL)"
            )
            await db.execute(
                "CREATE INDEX IF NOT EXISTS temp.receipt_batch_key "
                "ON receipt_batch (channel, message_id, seq)"
            )

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[aiosqlite.Connection]:
        """A write transaction; driver errors leave as :class:`StoreError`."""
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"cannot begin a transaction: {exc}") from exc
            try:
                yield self._db
            except BaseException as exc:
                try:
                    await self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.warning("store.rollback_failed")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise StoreConflict(f"constraint failed: {exc}") from exc
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"database error: {exc}") from exc
                raise
            else:
                try:
                    await self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise StoreError(f"commit failed: {exc}") from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """A read on the reader connection (it refuses writes)."""
        async with self._read_lock:
            try:
                return list(await self._reader.execute_fetchall(sql, params))
            except sqlite3.Error as exc:
                raise StoreError(f"database error: {exc}") from exc

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None


async def _connect(path: str) -> aiosqlite.Connection:
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    await connection.execute("PRAGMA busy_timeout = 15000")
    await connection.execute("PRAGMA synchronous = NORMAL")
    await connection.execute("PRAGMA foreign_keys = ON")
    return connection


def _statements(sql: str) -> Iterable[str]:
    """Split a migration into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                yield buffer.strip()
            buffer = ""
