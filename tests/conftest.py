from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis

from gateway.content.catalog import load_catalogs
from gateway.content.country_aliases import load_country_aliases
from gateway.menu.loader import load_tree_file
from gateway.menu.model import Tree
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore, open_store
from tests.audit_support import seal_at
from tests.servers import RedisServer
from tests.smpp.smsc_driver import Simulator

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TREE = ROOT / "menus" / "safe-journey.yaml"
CONTENT = ROOT / "content"


@pytest.fixture(scope="session")
def sample_tree() -> Tree:
    return load_tree_file(SAMPLE_TREE, load_catalogs(CONTENT), load_country_aliases(CONTENT))


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    if redis_server.process is None:  # a test stopped it
        redis_server.start()
    redis.Redis.from_url(redis_server.url).flushall()
    return redis_server.url


# A store on each engine, keyed and anchored as the tests' audit logs are. (PostgreSQL part:
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


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {
            "GATEWAY_DATA_DIR": str(tmp_path / "var"),
            "GATEWAY_MENUS": str(SAMPLE_TREE),
            "GATEWAY_CONTENT": str(CONTENT),
            "GATEWAY_CALLBACK_SECRET": "test-callback-secret-0123456789",
            "GATEWAY_HASH_KEY": "test-hash-key-0123456789abcdef0123456789",
        }
    )


def settings_with(settings: Settings, **variables: str) -> Settings:
    """``settings`` (the fixture's files and secrets) read again from the environment with
    more ``GATEWAY_`` variables (``SMSC=json.dumps(binds)``), as a deployment starts."""
    env = {
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_MENUS": str(settings.menus),
        "GATEWAY_CONTENT": str(settings.content),
        "GATEWAY_CALLBACK_SECRET": settings.callback_secret.reveal(),
        "GATEWAY_HASH_KEY": settings.hash_key.reveal(),
    }
    env.update({f"GATEWAY_{name}": value for name, value in variables.items()})
    return Settings.from_env(env)


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    """A node-smpp simulator for this test, bounded in time."""
    simulator = await Simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
