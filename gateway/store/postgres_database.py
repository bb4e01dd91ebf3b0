"""The PostgreSQL adapter: an asyncpg pool that several gateway processes share.

Everything SQLite gets from its single writer is made explicit by the queries through
the dialect (row locks, ``SKIP LOCKED`` claims, advisory locks); this module only runs
them: ``?`` placeholders become ``$n`` (cached per statement), a transaction is one
pooled connection in READ COMMITTED, and driver errors are translated. A message names
the operation and the error class or the server's primary message (which names
constraints and tables), never a value, and never the DSN (it holds a password).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import asyncpg

from gateway.store.database import Row
from gateway.store.dialect import POSTGRESQL, Dialect
from gateway.store.port import StoreConflict, StoreError

_DRIVER_ERRORS = (asyncpg.PostgresError, asyncpg.InterfaceError, OSError)


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


class PostgresConnection:
    """One pooled connection inside a transaction."""

    dialect: Dialect = POSTGRESQL

    def __init__(self, connection: Any) -> None:
        self._db = connection  # asyncpg.Connection: an untyped library

    async def execute(self, sql: str, *args: Any) -> int:
        return affected(await self._db.execute(POSTGRESQL.sql(sql), *args))

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            await self._db.executemany(POSTGRESQL.sql(sql), rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return list(await self._db.fetch(POSTGRESQL.sql(sql), *args))

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = await self._db.fetchrow(POSTGRESQL.sql(sql), *args)
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self._db.fetchval(POSTGRESQL.sql(sql), *args)

    async def run_script(self, sql: str) -> None:
        await self._db.execute(sql)  # no arguments: the simple protocol, many statements

    async def lock(self, key: int, shared: bool = False) -> None:
        await self._db.execute(POSTGRESQL.sql(POSTGRESQL.lock_sql(shared) or ""), key)

    async def lock_name(self, name: str) -> None:
        await self._db.execute(POSTGRESQL.sql(POSTGRESQL.named_lock_sql() or ""), name)


class PostgresDatabase:
    dialect: Dialect = POSTGRESQL

    def __init__(self, pool: Any) -> None:
        self._pool = pool  # asyncpg.Pool

    @classmethod
    async def open(cls, dsn: str, min_size: int = 1, max_size: int = 10) -> PostgresDatabase:
        """Connect a pool to ``dsn`` (a ``postgresql://`` URL)."""
        try:
            pool = await asyncpg.create_pool(
                dsn, min_size=min_size, max_size=max_size, init=_prepare_connection
            )
        except (*_DRIVER_ERRORS, ValueError) as exc:
            # the DSN holds a password: name only the error class
            raise StoreError(f"cannot open the database ({type(exc).__name__})") from exc
        return cls(pool)

    async def close(self) -> None:
        await self._pool.close()

    @asynccontextmanager
    async def transaction(self, doing: str = "transaction") -> AsyncIterator[PostgresConnection]:
        """One connection from the pool inside one transaction (READ COMMITTED)."""
        try:
            async with self._pool.acquire() as connection, connection.transaction():
                yield PostgresConnection(connection)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, doing) from exc

    async def execute(self, sql: str, *args: Any) -> int:
        try:
            return affected(await self._pool.execute(POSTGRESQL.sql(sql), *args))
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "execute") from exc

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if not rows:
            return
        try:
            await self._pool.executemany(POSTGRESQL.sql(sql), rows)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "execute") from exc

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        try:
            return list(await self._pool.fetch(POSTGRESQL.sql(sql), *args))
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        try:
            row: Row | None = await self._pool.fetchrow(POSTGRESQL.sql(sql), *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc
        return row

    async def fetchval(self, sql: str, *args: Any) -> Any:
        try:
            return await self._pool.fetchval(POSTGRESQL.sql(sql), *args)
        except _DRIVER_ERRORS as exc:
            raise _translate(exc, "query") from exc


async def _prepare_connection(connection: Any) -> None:
    for statement in POSTGRESQL.session_setup:
        await connection.execute(statement)
