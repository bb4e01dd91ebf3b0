from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.audit_support import Log


# The audit log on both engines, with the key and anchor the tests' stores use.
@pytest.fixture(params=["sqlite", "postgresql"])
async def log(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Log]:
    if request.param == "sqlite":
        yield Log(str(tmp_path / "gateway.db"), tmp_path)
        return
    from tests.pg_support import postgres_database

    async with postgres_database() as url:
        yield Log(url, tmp_path)
