"""The SQLite adapter: one aiosqlite connection per process for writes, one for reads.

WAL mode lets the CLI, the HTTP server and the broadcast worker share one file (readers
never wait for the writer; writers queue on ``busy_timeout``). ``synchronous=NORMAL``
under WAL survives a killed process (what the crash tests exercise); only a power cut
can lose the last commits. Every write runs inside ``BEGIN IMMEDIATE`` under an asyncio
lock, so coroutines of one process never interleave statements within a transaction,
and the whole file has one writer at a time: the row and advisory locks PostgreSQL
needs are no-ops here.
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

from gateway.store.database import Row
from gateway.store.dialect import SQLITE, Dialect
from gateway.store.port import StoreConflict, StoreError
from gateway.store.private_files import private_database

log = structlog.get_logger(__name__)


class SQLiteConnection:
    """The writer connection, inside a transaction."""

    dialect: Dialect = SQLITE

    def __init__(self, connection: aiosqlite.Connection) -> None:
        self._db = connection

    async def execute(self, sql: str, *args: Any) -> int:
        cursor = await self._db.execute(sql, args)
        return cursor.rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._db.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._db.execute_fetchall(sql, args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def run_script(self, sql: str) -> None:
        for statement in _statements(sql):
            await self._db.execute(statement)

    async def lock(self, key: int, shared: bool = False) -> None:
        """Nothing to do: ``BEGIN IMMEDIATE`` already holds the one write lock."""

    async def lock_name(self, name: str) -> None:
        """Nothing to do (see :meth:`lock`)."""


class SQLiteDatabase:
    dialect: Dialect = SQLITE

    def __init__(
        self,
        connection: aiosqlite.Connection,
        path: str,
        reader: aiosqlite.Connection | None = None,
    ) -> None:
        self._db = connection
        self._writer = SQLiteConnection(connection)
        self._reader = reader or connection
        self.path = path
        self._lock = asyncio.Lock()
        self._read_lock = self._lock if reader is None else asyncio.Lock()

    @classmethod
    async def open(cls, path: str | Path) -> SQLiteDatabase:
        """Open (creating if needed) the database file at ``path``."""
        path = str(path)
        if path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            private_database(Path(path))
        try:
            connection = await _connect(path)
            try:
                await connection.execute("PRAGMA journal_mode = WAL")
                for statement in SQLITE.session_setup:
                    await connection.execute(statement)
            except BaseException:
                await connection.close()
                raise
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the database: {exc}") from exc
        database = cls(connection, path)
        if path != ":memory:":
            # A second connection for plain reads: under WAL it never waits for the
            # writer, so status queries stay fast while a broadcast is being written.
            try:
                reader = await _connect(path)
                await reader.execute("PRAGMA query_only = ON")
            except sqlite3.Error as exc:
                await connection.close()
                raise StoreError(f"cannot open the database: {exc}") from exc
            database._reader = reader
            database._read_lock = asyncio.Lock()
            private_database(Path(path))  # the -wal and -shm just made
        return database

    async def close(self) -> None:
        if self._reader is not self._db:
            await self._reader.close()
        await self._db.close()

    @asynccontextmanager
    async def transaction(self, doing: str = "transaction") -> AsyncIterator[SQLiteConnection]:
        """A write transaction; driver errors leave as :class:`StoreError`."""
        async with self._lock:
            try:
                await self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                raise StoreError(f"{doing}: cannot begin a transaction: {exc}") from exc
            try:
                yield self._writer
            except BaseException as exc:
                try:
                    await self._db.execute("ROLLBACK")
                except sqlite3.Error:
                    log.warning("store.rollback_failed")
                if isinstance(exc, sqlite3.IntegrityError):
                    raise StoreConflict(f"{doing}: constraint failed: {exc}") from exc
                if isinstance(exc, sqlite3.Error):
                    raise StoreError(f"{doing}: database error: {exc}") from exc
                raise
            else:
                try:
                    await self._db.execute("COMMIT")
                except sqlite3.Error as exc:
                    raise StoreError(f"{doing}: commit failed: {exc}") from exc

    # -- one statement outside a transaction: reads on the reader connection ---------

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """A read on the reader connection (it refuses writes)."""
        async with self._read_lock:
            try:
                return list(await self._reader.execute_fetchall(sql, args))
            except sqlite3.Error as exc:
                raise StoreError(f"query: database error: {exc}") from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        rows = await self.fetch(sql, *args)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        row = await self.fetchrow(sql, *args)
        return None if row is None else row[0]

    async def execute(self, sql: str, *args: Any) -> int:
        async with self.transaction("execute") as db:
            return await db.execute(sql, *args)

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        async with self.transaction("execute") as db:
            await db.executemany(sql, rows)


async def _connect(path: str) -> aiosqlite.Connection:
    """A connection set up for the gateway; closed again when the set-up fails (a file
    that is no database), since its thread would keep the process alive."""
    connection = await aiosqlite.connect(path, isolation_level=None)
    connection.row_factory = sqlite3.Row
    try:
        await connection.execute("PRAGMA busy_timeout = 15000")
        await connection.execute("PRAGMA synchronous = NORMAL")
        await connection.execute("PRAGMA foreign_keys = ON")
    except BaseException:
        await connection.close()
        raise
    return connection


def _statements(sql: str) -> Iterable[str]:
    """Split a script into statements, keeping trigger bodies (BEGIN ... END;) whole."""
    buffer = ""
    for piece in sql.split(";"):
        buffer += piece + ";"
        if sqlite3.complete_statement(buffer):
            if buffer.strip(" \n;"):
                yield buffer.strip()
            buffer = ""
