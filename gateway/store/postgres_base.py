"""The PostgreSQL connection: a pool, migrations under a lock, and transactions.

Several gateway processes share one database, so everything that SQLite gets from its
single writer is made explicit here:

- migrations run under a transaction-scoped advisory lock, so workers starting
  together migrate once;
- outbox rows are claimed with ``FOR UPDATE SKIP LOCKED`` under a lease (see
  :mod:`gateway.store.postgres_outbox`);
- writes that read-then-write shared state (the audit chain's last hash, a menu's
  published version, a broadcast's expansion cursor, a row's receipt count) first lock
  what they read.

Driver errors leave as :class:`~gateway.store.port.StoreError` (a unique or foreign
key violation as :class:`~gateway.store.port.StoreConflict`); the message names the
operation and the error class, never a value.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import structlog

from gateway.store.port import StoreConflict, StoreError
from gateway.store.postgres_migrations import MIGRATIONS

log = structlog.get_logger(__name__)

# pg_advisory_xact_lock keys: constants, one per serialised concern.
MIGRATION_LOCK = 7_201_001
AUDIT_LOCK = 7_201_002

_RECEIPT_BATCH = (
    "CREATE TEMP TABLE IF NOT EXISTS receipt_batch (seq BIGINT GENERATED ALWAYS AS IDENTITY, "
    "channel TEXT, message_id TEXT, state TEXT, error TEXT, at DOUBLE PRECISION) "
    "ON COMMIT DELETE ROWS"
)

Connection = Any  # asyncpg.Connection: untyped library
Record = Any  # asyncpg.Record: rows indexable by column name like sqlite3.Row


def affected(status: str) -> int:
    """Rows touched, from a command tag such as ``UPDATE 3`` or ``INSERT 0 1``."""
    try:
        return int(status.rsplit(" ", 1)[-1])
    except ValueError:
        return 0


def _translate(exc: BaseException, doing: str) -> StoreError:
    # The server's primary message names constraints and tables, never values (those
    # are in its DETAIL, left out); a client-side error may name the host: class only.
    said = getattr(exc, "message", None) or type(exc).__name__
    if isinstance(exc, asyncpg.IntegrityConstraintViolationError):
        return StoreConflict(f"{doing}: constraint failed: {said}")
    return StoreError(f"{doing}: database error: {said}")


_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


class PostgresBase:
    def __init__(self, pool: Any) -> None:
        self._pool = pool

    @classmethod
    async def open(cls, dsn: str, min_size: int = 1, max_size: int = 10) -> Any:
        """Connect a pool to ``dsn`` (a ``postgresql://`` URL) and migrate."""
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, init=_prepare_connection
            )
        except (*_DRIVER_ERRORS, ValueError) as exc:
            # the DSN holds a password: name only the error class
            raise StoreError(f"cannot open the database ({type(exc).__name__})") from exc
        store = cls(pool)
        try:
            await store._migrate()
        except BaseException:
            await pool.close()
            raise
        return store

    async def close(self) -> None:
        await self._pool.close()

    async def ping(self) -> bool:
        """For the readiness check: the database answers a trivial query."""
        answer: int | None = await self.fetchval("SELECT 1")
        return answer == 1

    async def _migrate(self) -> None:
        async with self.transaction("migrate") as db:
            await db.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK)
            await db.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at DOUBLE PRECISION NOT NULL)"
            )
            applied = {row[0] for row in await db.fetch("SELECT version FROM schema_migrations")}
            for version, sql in MIGRATIONS:
                if version in applied:
                    continue
                await db.execute(sql)
                await db.execute(
                    "INSERT INTO schema_migrations (version, applied_at) "
                    "VALUES ($1, extract(epoch FROM now()))",
                    version,
                )
                log.info("store.migrated", version=version, backend="postgresql")

    @asynccontextmanager
    async def transaction(self, doing: str = "transaction") -> AsyncIterator[Connection]:
        """One connection from the pool inside one transaction (READ COMMITTED)."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                yield connection
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, doing) from exc

    async def fetch(self, sql: str, *args: Any) -> list[Record]:
        try:
            return list(await self._pool.fetch(sql, *args))
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc

    async def fetchrow(self, sql: str, *args: Any) -> Record | None:
        try:
            return await self._pool.fetchrow(sql, *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Record]:
        """Ad-hoc statements with SQLite-style ``?`` placeholders, as
        :class:`~gateway.store.sqlite_base.SQLiteBase` offers (checks, tests)."""
        return await self.fetch(numbered_placeholders(sql), *params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Record | None:
        rows = await self.fetchall(sql, params)
        return rows[0] if rows else None

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._pool.fetchval(sql, *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc


async def _prepare_connection(connection: Connection) -> None:
    # A per-connection scratch table for receipt batches, emptied at every commit.
    await connection.execute(_RECEIPT_BATCH)


def numbered_placeholders(sql: str) -> str:
    """``?`` placeholders to ``$1, $2, ...``, leaving quoted text alone."""
    out: list[str] = []
    number = 0
    quoted = False
    for char in sql:
        if char == "'":
            quoted = not quoted
        if char == "?" and not quoted:
            number += 1
            out.append(f"${number}")
        else:
            out.append(char)
    return "".join(out)


def ids_array(ids: Sequence[int]) -> list[int]:
    """Ids for ``= ANY($n::bigint[])``."""
    return [int(value) for value in ids]
