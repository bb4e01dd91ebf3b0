"""Auto-pipelining for redis-py asyncio: the commands that requests issue in one turn
of the event loop travel to Redis together, as one pipeline on one connection.

Why: under load a worker has many callbacks in flight, and each used to pay for its
own trip through redis-py (pool checkout, a write, a timed read, the command
machinery), which cost more CPU than the rest of the request. Here a command waits
at most until the end of the current loop turn, then goes out with the others of
that turn: still one round trip per request in latency, but one write, one pool
checkout and one socket read shared by the batch. Commands are packed by hiredis
(in C); replies are read by redis-py's parser on a connection from the client's own
pool, so connecting, TLS, AUTH, timeouts and reconnecting stay redis-py's.

A failed batch fails every command in it with the error (a :class:`RedisError`);
nothing is retried here, because a write whose reply was lost may have landed: the
caller decides. An error reply (``-ERR ...``) fails only its own command.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from dataclasses import dataclass, field
from typing import Any

import hiredis
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError, RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

Argument = str | bytes | int | float


@dataclass(frozen=True)
class LuaScript:
    """A Lua script run by its SHA1; loaded into Redis the first time Redis lacks it."""

    source: str
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(
            self, "sha", hashlib.sha1(self.source.encode(), usedforsecurity=False).hexdigest()
        )


class AutoPipeline:
    """Sends each loop turn's commands as one pipeline; see the module docstring."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._pool = client.connection_pool
        # The client's socket timeout bounds a batch's wait for its replies.
        self._timeout = client.connection_pool.connection_kwargs.get("socket_timeout") or 5.0
        self._pending: list[tuple[bytes, asyncio.Future[Any]]] = []
        # The loop a flush is scheduled on (None: none is). A client used from a new
        # loop (tests) schedules its own flush rather than wait on a closed loop's.
        self._flush_loop: asyncio.AbstractEventLoop | None = None
        self._in_flight: set[asyncio.Task[None]] = set()

    def execute(self, *args: Argument) -> asyncio.Future[Any]:
        """Queue one command; the future resolves to its reply (as redis-py parses it)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Any] = loop.create_future()
        self._pending.append((hiredis.pack_command(args), future))  # type: ignore[arg-type]  # stub says 1-tuple
        if self._flush_loop is not loop:
            self._flush_loop = loop
            loop.call_soon(self._flush)
        return future

    async def run_script(
        self, script: LuaScript, keys: tuple[str, ...], args: tuple[Argument, ...]
    ) -> Any:
        """``EVALSHA``; a Redis that lacks the script (restarted, flushed) is given it."""
        try:
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.execute("SCRIPT", "LOAD", script.source)
            return await self.execute("EVALSHA", script.sha, len(keys), *keys, *args)

    @property
    def batches_in_flight(self) -> int:
        return len(self._in_flight)

    def _flush(self) -> None:
        loop = asyncio.get_running_loop()
        if self._flush_loop is loop:
            self._flush_loop = None
        batch: list[tuple[bytes, asyncio.Future[Any]]] = []
        others: list[tuple[bytes, asyncio.Future[Any]]] = []
        for item in self._pending:
            (batch if item[1].get_loop() is loop else others).append(item)
        self._pending = others
        if not batch:
            return
        task = loop.create_task(self._send(batch))
        self._in_flight.add(task)
        task.add_done_callback(self._in_flight.discard)

    async def _send(self, batch: list[tuple[bytes, asyncio.Future[Any]]]) -> None:
        try:
            connection = await self._pool.get_connection()  # type: ignore[no-untyped-call]
        except (RedisError, OSError) as exc:
            _fail(batch, exc)
            return
        try:
            await connection.send_packed_command(
                b"".join(packed for packed, _ in batch), check_health=False
            )
            # One deadline for the batch's replies rather than one per reply.
            async with asyncio.timeout(self._timeout):
                for _, future in batch:
                    try:
                        reply = await connection.read_response(timeout=math.inf)
                    except ResponseError as exc:
                        if not future.done():
                            future.set_exception(exc)
                        continue
                    if not future.done():
                        future.set_result(reply)
        except TimeoutError:
            await connection.disconnect(nowait=True)
            _fail(batch, RedisTimeoutError("no reply from Redis in time"))
        except (RedisError, OSError) as exc:
            # redis-py has already dropped the connection: the pool opens a new one.
            _fail(batch, exc)
        except BaseException:
            _fail(batch, RedisConnectionError("the batch was interrupted"))
            await connection.disconnect(nowait=True)
            raise
        finally:
            await self._pool.release(connection)


def _fail(batch: list[tuple[bytes, asyncio.Future[Any]]], error: Exception) -> None:
    failure = error if isinstance(error, RedisError) else RedisConnectionError(str(error))
    for _, future in batch:
        if not future.done():
            future.set_exception(failure)
