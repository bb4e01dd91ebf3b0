"""The one interface the store's queries run on, whatever the driver.

:class:`Database` is filled by :class:`~gateway.store.sqlite_database.SQLiteDatabase`
(aiosqlite, one file) and :class:`~gateway.store.postgres_database.PostgresDatabase`
(asyncpg, a pool). Statements use ``?`` placeholders; each adapter asks its
:class:`~gateway.store.dialect.Dialect` to translate them. Writes that belong together
run in :meth:`Database.transaction`; a plain read may run outside one.

Driver errors leave as :class:`~gateway.store.port.StoreError` (a unique or foreign key
violation as :class:`~gateway.store.port.StoreConflict`), whose message names the
operation and the error, never a value.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Protocol

from gateway.store.dialect import Dialect


class Row(Protocol):
    """A result row, by column name or position (``sqlite3.Row``, ``asyncpg.Record``)."""

    def __getitem__(self, key: int | str, /) -> Any: ...


class Queries(Protocol):
    """What a statement can be run on: a connection inside a transaction, or the
    database itself for one statement."""

    dialect: Dialect

    async def execute(self, sql: str, *args: Any) -> int:
        """Run one statement; returns the rows it changed."""

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Run one statement once per parameter row (nothing when ``rows`` is empty)."""

    async def fetch(self, sql: str, *args: Any) -> list[Row]: ...

    async def fetchrow(self, sql: str, *args: Any) -> Row | None: ...

    async def fetchval(self, sql: str, *args: Any) -> Any:
        """The first column of the first row, or None."""


class Connection(Queries, Protocol):
    async def lock(self, key: int, shared: bool = False) -> None:
        """Take a transaction-scoped lock on ``key`` where the engine has writers
        running at once (PostgreSQL); nothing where one writer runs at a time."""

    async def lock_name(self, name: str) -> None:
        """As :meth:`lock`, keyed by a text."""

    async def run_script(self, sql: str) -> None:
        """Run several statements (a migration), as written: no placeholders."""


class Database(Queries, Protocol):
    def transaction(self, doing: str = "transaction") -> AbstractAsyncContextManager[Connection]:
        """One write transaction; ``doing`` names it in errors."""

    async def close(self) -> None: ...
