from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from gateway.store.sqlite import SQLiteStore


# The same suite runs against both implementations of the store port. (PostgreSQL
# part: tests/pg_support.py starts the local cluster and gives each test a database.)
@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Any]:
    if request.param == "sqlite":
        opened: SQLiteStore = await SQLiteStore.open(tmp_path / "gateway.db")
        yield opened
        await opened.close()
        return
    from gateway.store.postgres import PostgresStore
    from tests.pg_support import postgres_database

    async with postgres_database() as url:
        postgres = await PostgresStore.open(url)
        yield postgres
        await postgres.close()
