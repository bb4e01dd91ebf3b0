"""USSD session storage: a small port, an in-process store and a Redis store.

Keys are keyed hashes (see :mod:`gateway.privacy`), never phone numbers or the
aggregator's raw session id. Per request the service makes one read (the session,
the caller's resume point and remembered language, in one ``MGET``) and one
pipelined write. Every key expires: sessions after the session lifetime, the
resume point after the resume window, the remembered language after 30 days.

Errors: the stores raise only :class:`SessionStoreError`, which the service turns
into a polite closing screen. The Redis client has short timeouts so a dead Redis
costs a request a fraction of a second, never a hang; redis-py reconnects by
itself on the next command once Redis is back.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.menu.engine import SessionState
from gateway.ussd.types import USSDReply

KEY_PREFIX = "gw:ussd:"
SESSION_PREFIX = KEY_PREFIX + "s:"
RESUME_PREFIX = KEY_PREFIX + "r:"
LANGUAGE_PREFIX = KEY_PREFIX + "l:"
LANGUAGE_TTL = 30 * 24 * 3600


class SessionStoreError(Exception):
    """The session store cannot be reached or answered with something unreadable."""


@dataclass(frozen=True)
class SessionRecord:
    """A live session: engine state, and the last request and reply (for replays)."""

    state: SessionState
    replay_key: str
    reply: USSDReply
    hops: int = 1

    def dumps(self) -> str:
        return json.dumps(
            {
                "st": self.state.to_dict(),
                "k": self.replay_key,
                "t": self.reply.text,
                "e": self.reply.end,
                "id": self.reply.screen_id,
                "n": self.hops,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )

    @classmethod
    def loads(cls, raw: str | bytes) -> SessionRecord:
        data = json.loads(raw)
        return cls(
            state=SessionState.from_dict(data["st"]),
            replay_key=str(data["k"]),
            reply=USSDReply(str(data["t"]), bool(data["e"]), str(data.get("id", ""))),
            hops=int(data.get("n", 1)),
        )


@dataclass(frozen=True)
class CallerView:
    """What one read returns: the session (if any) and the caller's saved context."""

    session: SessionRecord | None
    resume: SessionState | None
    language: str | None


@dataclass(frozen=True)
class SessionWrite:
    session_key: str
    caller_key: str
    record: SessionRecord
    resume: SessionState | None  # None: forget the resume point
    language: str
    session_ttl: int
    resume_ttl: int


class SessionStore(Protocol):
    async def read(self, session_key: str, caller_key: str) -> CallerView: ...

    async def write(self, write: SessionWrite) -> None: ...

    async def session(self, session_key: str) -> SessionRecord | None: ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def _decode(raw: Any, parse: Callable[[Any], Any]) -> Any:
    if raw is None:
        return None
    try:
        return parse(raw)
    except (ValueError, KeyError, TypeError) as exc:
        raise SessionStoreError(f"unreadable session data: {type(exc).__name__}") from exc


def _state(raw: Any) -> SessionState:
    return SessionState.from_dict(json.loads(raw))


class MemorySessionStore:
    """The embedded default: a dict with expiry, for one process."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._items: dict[str, tuple[float, str]] = {}

    def _get(self, key: str) -> str | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._items[key]
            return None
        return item[1]

    def _set(self, key: str, value: str, ttl: int) -> None:
        self._items[key] = (self._clock() + ttl, value)
        if len(self._items) > 10_000 and len(self._items) % 1000 == 0:
            now = self._clock()
            self._items = {k: v for k, v in self._items.items() if v[0] > now}

    async def read(self, session_key: str, caller_key: str) -> CallerView:
        return CallerView(
            session=_decode(self._get(SESSION_PREFIX + session_key), SessionRecord.loads),
            resume=_decode(self._get(RESUME_PREFIX + caller_key), _state),
            language=self._get(LANGUAGE_PREFIX + caller_key),
        )

    async def write(self, write: SessionWrite) -> None:
        self._set(SESSION_PREFIX + write.session_key, write.record.dumps(), write.session_ttl)
        resume_key = RESUME_PREFIX + write.caller_key
        if write.resume is None or write.resume_ttl <= 0:
            self._items.pop(resume_key, None)
        else:
            self._set(resume_key, json.dumps(write.resume.to_dict()), write.resume_ttl)
        self._set(LANGUAGE_PREFIX + write.caller_key, write.language, LANGUAGE_TTL)

    async def session(self, session_key: str) -> SessionRecord | None:
        record: SessionRecord | None = _decode(
            self._get(SESSION_PREFIX + session_key), SessionRecord.loads
        )
        return record

    def keys(self) -> list[str]:
        return list(self._items)

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._items.clear()


class RedisSessionStore:
    """Sessions in Redis, shared by every gateway worker."""

    def __init__(self, client: aioredis.Redis) -> None:
        self._redis = client

    @classmethod
    def from_url(cls, url: str, timeout: float = 0.5) -> RedisSessionStore:
        client = aioredis.Redis.from_url(
            url,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry_on_timeout=False,
            decode_responses=True,
            max_connections=256,
        )
        return cls(client)

    async def read(self, session_key: str, caller_key: str) -> CallerView:
        keys = (
            SESSION_PREFIX + session_key,
            RESUME_PREFIX + caller_key,
            LANGUAGE_PREFIX + caller_key,
        )
        try:
            session, resume, language = await self._redis.mget(keys)
        except (RedisError, OSError) as exc:
            raise SessionStoreError(f"redis read failed: {type(exc).__name__}") from exc
        return CallerView(
            session=_decode(session, SessionRecord.loads),
            resume=_decode(resume, _state),
            language=None if language is None else str(language),
        )

    async def write(self, write: SessionWrite) -> None:
        pipe = self._redis.pipeline(transaction=False)
        pipe.set(SESSION_PREFIX + write.session_key, write.record.dumps(), ex=write.session_ttl)
        resume_key = RESUME_PREFIX + write.caller_key
        if write.resume is None or write.resume_ttl <= 0:
            pipe.delete(resume_key)
        else:
            pipe.set(resume_key, json.dumps(write.resume.to_dict()), ex=write.resume_ttl)
        pipe.set(LANGUAGE_PREFIX + write.caller_key, write.language, ex=LANGUAGE_TTL)
        try:
            await pipe.execute()
        except (RedisError, OSError) as exc:
            raise SessionStoreError(f"redis write failed: {type(exc).__name__}") from exc

    async def session(self, session_key: str) -> SessionRecord | None:
        try:
            raw = await self._redis.get(SESSION_PREFIX + session_key)
        except (RedisError, OSError) as exc:
            raise SessionStoreError(f"redis read failed: {type(exc).__name__}") from exc
        record: SessionRecord | None = _decode(raw, SessionRecord.loads)
        return record

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
