"""RELIABILITY 18: after 1,000 USSD sessions (some subscribing, so the store holds
subscribers), a dump of Redis, the SQLite file and the JSON logs holds no caller's
number in clear, and Redis holds no menu path under anything but a keyed hash."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import redis

from gateway.observability.logs import configure
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.ussd.sessions import RedisSessionStore
from tests.ussd.test_at_endpoint import form, post

SESSIONS = 1000


def read_database(directory: Path) -> bytes:
    return b"".join(path.read_bytes() for path in sorted(directory.glob("gateway.db*")))


def number(index: int) -> str:
    return f"+2547{index:08d}"


async def test_a_dump_after_1000_sessions_holds_no_number(
    aiohttp_client: Any, settings: Settings, redis_url: str
) -> None:
    logs = io.StringIO()
    configure("json", "info", stream=logs)
    try:
        app = await create_app(
            settings, session_store=RedisSessionStore.from_url(redis_url), broadcast_worker=False
        )
        client = await aiohttp_client(app)
        store = app[RUNTIME].store
        for index in range(SESSIONS):
            walk = ["", "1", "1*4", "1*4*2"] if index % 10 == 0 else ["", "1", "1*1"]
            for text in walk:
                status, _ = await post(client, form(text, f"s{index}", number(index)))
                assert status == 200
        assert (await store.topic_counts()).get("trafficking") == SESSIONS // 10
        await client.close()
    finally:
        configure("console", "info")
    dump = redis.Redis.from_url(redis_url)
    keys = dump.keys("*")
    assert len(keys) > SESSIONS  # sessions, resume points, languages: all there, all hashed
    redis_text = b"\n".join(k + b" " + (dump.get(k) or b"") for k in keys)
    database = read_database(Path(settings.data_dir))
    log_text = logs.getvalue().encode()
    assert log_text.count(b"ussd.request") >= SESSIONS * 3
    for index in range(0, SESSIONS, 7):
        digits = number(index).lstrip("+").encode()
        for where, blob in (("redis", redis_text), ("sqlite", database), ("logs", log_text)):
            assert digits not in blob, where
            assert digits[3:] not in blob, where  # nor without the country code
