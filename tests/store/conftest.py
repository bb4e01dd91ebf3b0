from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from gateway.store.sqlite import SQLiteStore


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SQLiteStore]:
    opened: SQLiteStore = await SQLiteStore.open(tmp_path / "gateway.db")
    yield opened
    await opened.close()
