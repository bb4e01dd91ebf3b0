"""Auto-pipelining against a real Redis: shared trips, per-command errors, outages."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
import redis
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from gateway.ussd.redis_pipeline import AutoPipeline, LuaScript
from tests.servers import RedisServer

ECHO_KEY_AND_ARG = LuaScript("return {KEYS[1], ARGV[1]}")


def client(url: str, timeout: float = 0.5) -> aioredis.Redis:
    return aioredis.Redis.from_url(
        url, decode_responses=True, socket_timeout=timeout, socket_connect_timeout=timeout
    )


def connections_received(observer: redis.Redis) -> int:
    return int(observer.info("stats")["total_connections_received"])


async def test_the_commands_of_one_loop_turn_share_one_connection(redis_url: str) -> None:
    pipeline = AutoPipeline(client(redis_url))
    observer = redis.Redis.from_url(redis_url)
    before = connections_received(observer)
    await asyncio.gather(*(pipeline.execute("SET", f"k{i}", i) for i in range(200)))
    values = await asyncio.gather(*(pipeline.execute("GET", f"k{i}") for i in range(200)))
    assert values == [str(i) for i in range(200)]
    assert connections_received(observer) - before == 1  # 400 commands, one connection


async def test_an_error_reply_fails_only_its_own_command(redis_url: str) -> None:
    pipeline = AutoPipeline(client(redis_url))
    results = await asyncio.gather(
        pipeline.execute("SET", "word", "hello"),
        pipeline.execute("INCR", "word"),
        pipeline.execute("GET", "word"),
        return_exceptions=True,
    )
    assert results[0] == "OK" and results[2] == "hello"
    assert isinstance(results[1], ResponseError)


async def test_a_script_redis_lacks_is_loaded_and_run(redis_url: str) -> None:
    pipeline = AutoPipeline(client(redis_url))
    redis.Redis.from_url(redis_url).script_flush()
    assert await pipeline.run_script(ECHO_KEY_AND_ARG, ("a",), (1,)) == ["a", "1"]
    redis.Redis.from_url(redis_url).script_flush()
    replies = await asyncio.gather(
        *(pipeline.run_script(ECHO_KEY_AND_ARG, (f"k{i}",), (i,)) for i in range(20))
    )
    assert replies == [[f"k{i}", str(i)] for i in range(20)]


async def test_a_stopped_redis_fails_the_batch_and_a_restarted_one_serves_again(
    tmp_path: Path,
) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        pipeline = AutoPipeline(client(server.url))
        assert await pipeline.execute("PING") == "PONG"
        server.stop()
        results = await asyncio.gather(
            *(pipeline.execute("GET", f"k{i}") for i in range(10)), return_exceptions=True
        )
        assert all(isinstance(result, RedisError) for result in results)
        server.start()
        assert await pipeline.execute("SET", "back", 1) == "OK"
        assert await pipeline.execute("GET", "back") == "1"
    finally:
        server.stop()


async def test_a_redis_that_does_not_answer_times_out_then_serves_again(redis_url: str) -> None:
    pipeline = AutoPipeline(client(redis_url, timeout=0.2))
    assert await pipeline.execute("PING") == "PONG"
    redis.Redis.from_url(redis_url).client_pause(600)
    with pytest.raises(RedisError):
        await pipeline.execute("GET", "anything")
    await asyncio.sleep(0.5)
    assert await pipeline.execute("SET", "after", "pause") == "OK"
