from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.sql_store import SQLStore, open_store
from tests.audit_support import Log, seal_at


# The same suite runs on both engines behind the one store. (PostgreSQL part:
# tests/pg_support.py starts the local cluster and gives each test a database.)
@pytest.fixture(params=["sqlite", "postgresql"])
async def store(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[SQLStore]:
    if request.param == "sqlite":
        opened = await open_store(str(tmp_path / "gateway.db"), audit=seal_at(tmp_path))
        yield opened
        await opened.close()
        return
    from tests.pg_support import postgres_database

    async with postgres_database() as url:
        postgres = await open_store(url, audit=seal_at(tmp_path))
        yield postgres
        await postgres.close()


# The audit log on both engines, with the key and anchor the tests' stores use.
@pytest.fixture(params=["sqlite", "postgresql"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Log]:
    if request.param == "sqlite":
        yield Log(str(tmp_path / "gateway.db"), tmp_path)
        return
    from tests.pg_support import postgres_database

    async with postgres_database() as url:
        yield Log(url, tmp_path)
