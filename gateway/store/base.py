"""What every part of the store stands on: a :class:`~gateway.store.database.Database`,
opened and migrated, and shortcuts to run one statement on it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

from gateway.store.database import Connection, Database, Row
from gateway.store.dialect import Dialect


class StoreBase:
    def __init__(self, database: Database) -> None:
        self.database = database
        self.dialect: Dialect = database.dialect

    @property
    def backend(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.dialect.name

    async def ping(self) -> bool:
        """For the readiness check: the database answers a trivial query."""
        answer: int | None = await self.database.fetchval("SELECT 1")
        return answer == 1

    async def close(self) -> None:
        await self.database.close()

    @asynccontextmanager
    async def transaction(self, doing: str = "transaction") -> AsyncIterator[Connection]:
        async with self.database.transaction(doing) as db:
            yield db

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        """One read (``?`` placeholders), outside any transaction."""
        return await self.database.fetch(sql, *args)

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        return await self.database.fetchrow(sql, *args)

    async def fetchval(self, sql: str, *args: Any) -> Any:
        return await self.database.fetchval(sql, *args)

    async def fetchall(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """As :meth:`fetch`, parameters as one sequence (checks, tests)."""
        return await self.database.fetch(sql, *params)

    async def fetchone(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return await self.database.fetchrow(sql, *params)
