"""USSD session storage: a small port, an in-process store and a Redis store.

Keys are keyed hashes (see :mod:`gateway.privacy.numbers`), never phone numbers or the
aggregator's raw session id. Every key expires: sessions after the session
lifetime, the resume point after the resume window, the remembered language after
30 days.

One round trip per request: a session's record carries a version (its hop count).
The service works from the record it last wrote (a local cache) and commits the
next one with a compare-and-set (one Lua script). If another worker moved the
session on in between, the script refuses and returns the current record in the
same round trip; the service runs the pure engine again on it. A session's first
request on a worker has no record to work from: the service computes it from the
caller's saved context (resume point, remembered language) as this worker last wrote
or saw it, none for a caller it does not know, and the script refuses that write,
returning the caller's context, when the stored one differs. A new caller, and a
returning one whose last session this worker served, are served in one round trip;
a returning caller whose context moved elsewhere in two. The Redis store's
commands go through :class:`gateway.ussd.redis_pipeline.AutoPipeline`, so the requests in
flight at once share their trips to Redis.

Errors: the stores raise only :class:`SessionStoreError`, which the service turns
into a polite closing screen. The Redis client has short timeouts so a dead Redis
costs a request a fraction of a second, never a hang; redis-py reconnects by
itself on the next command once Redis is back.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.errors import GatewayError
from gateway.menu.engine import SessionState
from gateway.ussd.redis_pipeline import AutoPipeline, LuaScript
from gateway.ussd.types import USSDReply

V = TypeVar("V")

KEY_PREFIX = "gw:ussd:"
SESSION_PREFIX = KEY_PREFIX + "s:"
RESUME_PREFIX = KEY_PREFIX + "r:"
LANGUAGE_PREFIX = KEY_PREFIX + "l:"
HITS_PREFIX = KEY_PREFIX + "q:"  # per-number counters (the SMS menu's rate limit)
LANGUAGE_TTL = 30 * 24 * 3600


class SessionStoreError(GatewayError):
    """The session store cannot be reached or answered with something unreadable."""


class SessionRecord(NamedTuple):
    """A live session: engine state, and the last request and reply (for replays).
    Immutable; a ``NamedTuple`` as it is built on every request."""

    state: SessionState
    replay_key: str
    reply: USSDReply
    hops: int = 1

    def dumps(self) -> bytes:
        """``<version>|<json>``: the version leads, so the commit script reads it cheaply.

        The JSON object is ``{"st", "k", "t", "e", "id", "n"}`` in that order, as
        ``orjson.dumps`` writes the dict; it is put together from the state's remembered
        JSON (most sessions share a few hundred states) rather than dumped whole on
        every commit: the same bytes for less.
        """
        return _dumped(self, _state_json(self.state))

    @classmethod
    def loads(cls, raw: str | bytes) -> SessionRecord:
        _, _, body = (raw.encode() if isinstance(raw, str) else raw).partition(b"|")
        data = orjson.loads(body)
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


class SessionWrite(NamedTuple):
    """One commit, as immutable as a frozen dataclass and built in a third of the time
    (one per request)."""

    session_key: str
    caller_key: str
    record: SessionRecord  # its ``hops`` is the new version
    resume: SessionState | None  # None: forget the resume point
    language: str  # the language to remember; "" leaves the remembered one as it is
    session_ttl: int
    resume_ttl: int
    # A first request computed before anything was read: refuse it (returning the
    # caller's context) unless the caller's resume point and remembered language are
    # the assumed ones (by default none: a caller with no saved context).
    assumes_no_context: bool = False
    assumed_resume: SessionState | None = None
    assumed_language: str | None = None

    @property
    def expected_version(self) -> int:
        """The version the stored record must still have: the one this write follows."""
        return self.record.hops - 1


class Conflict(Exception):
    """The write was computed from something no longer true: the session moved on, or
    a first request assumed a caller with no saved context. Carries what is true."""

    def __init__(self, view: CallerView) -> None:
        super().__init__("session changed underneath")
        self.view = view

    @property
    def current(self) -> SessionRecord | None:
        return self.view.session


class SessionStore(Protocol):
    def cached(self, session_key: str) -> SessionRecord | None:
        """The record this process last saw for the session; may be stale (the commit
        checks), None when it has none."""

    def context(self, caller_key: str) -> tuple[SessionState | None, str | None]:
        """The caller's resume point and remembered language as this process last wrote
        or saw them; may be stale (the commit checks), (None, None) when it knows none."""

    async def commit(self, write: SessionWrite) -> None:
        """Store ``write`` if the session is still at ``write.expected_version`` (and,
        for a write that ``assumes_no_context``, the caller's context is the assumed
        one); else raise :class:`Conflict` carrying the session and the caller's
        context as they are."""

    async def session(self, session_key: str) -> SessionRecord | None: ...

    async def count_hit(self, key: str, window: int) -> int:
        """Count one hit on ``key`` (a keyed hash) and return the hits in its window:
        the window opens at the first hit and lasts ``window`` seconds."""

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...


def _decode(raw: Any, parse: Callable[[Any], Any]) -> Any:
    if raw is None:
        return None
    try:
        return parse(raw)
    except (ValueError, KeyError, TypeError, orjson.JSONDecodeError) as exc:
        raise SessionStoreError(f"unreadable session data: {type(exc).__name__}") from exc


def _state(raw: Any) -> SessionState:
    return SessionState.from_dict(orjson.loads(raw))


# A worker's memory of the sessions it served holds each record as a row of plain
# values (numbers, strings, bytes), not as objects. The garbage collector stops
# tracking a tuple of such values, so 100,000 remembered sessions cost its full
# collections nothing; as objects they made each one a pause of 30-115 ms, which
# grew with the cache and showed as p99. A session's state is one of a few hundred
# values (shared by every caller on the same screen), so its JSON and its decoding
# are remembered too.
_CachedRecord = tuple[int, str, str, bool, str, bytes]


@lru_cache(maxsize=8192)
def _state_json(state: SessionState) -> bytes:
    return orjson.dumps(state.to_dict())


@lru_cache(maxsize=8192)
def _state_from_json(raw: bytes) -> SessionState:
    return _state(raw)


def _dumped(record: SessionRecord, state_json: bytes) -> bytes:
    """``record.dumps()``, its state's JSON given (a commit takes it once for the stored
    record and the remembered row)."""
    reply = record.reply
    return b"".join(
        (
            b'%d|{"st":' % record.hops,
            state_json,
            b',"k":',
            orjson.dumps(record.replay_key),
            b',"t":',
            orjson.dumps(reply.text),
            b',"e":true,"id":' if reply.end else b',"e":false,"id":',
            orjson.dumps(reply.screen_id),
            b',"n":%d}' % record.hops,
        )
    )


def _to_row(record: SessionRecord, state_json: bytes | None = None) -> _CachedRecord:
    reply = record.reply
    return (
        record.hops,
        record.replay_key,
        reply.text,
        reply.end,
        reply.screen_id,
        _state_json(record.state) if state_json is None else state_json,
    )


def _from_row(row: _CachedRecord) -> SessionRecord:
    hops, replay_key, text, end, screen_id, state = row
    return SessionRecord(_state_from_json(state), replay_key, USSDReply(text, end, screen_id), hops)


class ExpiringMap(Generic[V]):
    """A bounded map whose entries expire; the least recently written go first."""

    def __init__(self, size: int, clock: Callable[[], float] = time.monotonic) -> None:
        self._size = size
        self._clock = clock
        self._items: OrderedDict[str, tuple[float, V]] = OrderedDict()

    def get(self, key: str) -> V | None:
        item = self._items.get(key)
        if item is None:
            return None
        if item[0] <= self._clock():
            del self._items[key]
            return None
        return item[1]

    def put(self, key: str, value: V | None, ttl: float) -> None:
        if value is None or ttl <= 0:
            self._items.pop(key, None)
            return
        self._items[key] = (self._clock() + ttl, value)
        self._items.move_to_end(key)
        while len(self._items) > self._size:
            self._items.popitem(last=False)

    def keys(self) -> list[str]:
        return list(self._items)

    def expiry(self, key: str) -> float | None:
        """When ``key`` expires (on this map's clock), None when it is absent or gone."""
        return None if self.get(key) is None else self._items[key][0]

    def clear(self) -> None:
        self._items.clear()


class MemorySessionStore:
    """The embedded default: one process, nothing shared, same semantics as Redis."""

    def __init__(self, clock: Callable[[], float] = time.monotonic, size: int = 500_000) -> None:
        self._clock = clock
        self._items: ExpiringMap[str | bytes] = ExpiringMap(size, clock)

    def _get(self, key: str) -> str | bytes | None:
        return self._items.get(key)

    def _set(self, key: str, value: str | bytes, ttl: int) -> None:
        self._items.put(key, value, ttl)

    def cached(self, session_key: str) -> SessionRecord | None:
        record: SessionRecord | None = _decode(
            self._get(SESSION_PREFIX + session_key), SessionRecord.loads
        )
        return record

    def context(self, caller_key: str) -> tuple[SessionState | None, str | None]:
        view = self._view("", caller_key)
        return view.resume, view.language

    def _view(self, session_key: str, caller_key: str) -> CallerView:
        language = self._get(LANGUAGE_PREFIX + caller_key)
        return CallerView(
            session=self.cached(session_key),
            resume=_decode(self._get(RESUME_PREFIX + caller_key), _state),
            language=None if language is None else str(language),
        )

    async def commit(self, write: SessionWrite) -> None:
        current = self.cached(write.session_key)
        version = current.hops if current else 0
        if version != write.expected_version:
            raise Conflict(self._view(write.session_key, write.caller_key))
        if version == 0 and write.assumes_no_context:
            view = self._view(write.session_key, write.caller_key)
            if (view.resume, view.language) != (write.assumed_resume, write.assumed_language):
                raise Conflict(view)
        self._set(SESSION_PREFIX + write.session_key, write.record.dumps(), write.session_ttl)
        resume = None if write.resume is None else _state_json(write.resume)
        self._items.put(RESUME_PREFIX + write.caller_key, resume, write.resume_ttl)
        if write.language:
            self._set(LANGUAGE_PREFIX + write.caller_key, write.language, LANGUAGE_TTL)

    async def session(self, session_key: str) -> SessionRecord | None:
        return self.cached(session_key)

    async def count_hit(self, key: str, window: int) -> int:
        name = HITS_PREFIX + key
        raw = self._items.get(name)
        expires = self._items.expiry(name)
        hits = 1 if raw is None else int(raw) + 1
        ttl = window if expires is None else expires - self._clock()
        self._items.put(name, str(hits), ttl)
        return hits

    def keys(self) -> list[str]:
        return self._items.keys()

    async def ping(self) -> bool:
        return True

    async def close(self) -> None:
        self._items.clear()


# Compare-and-set of a session record, with the caller's resume point and language.
# KEYS: session, resume point, language. ARGV: expected version, record, session TTL,
# resume point ("" forgets it), resume TTL, language ("" leaves it), language TTL,
# "1" when the write assumes the caller's saved context, which is then ARGV[9] (the
# resume point) and ARGV[10] (the language), "" for none.
# Returns nil when written; otherwise {session, resume point, language} as they are
# ("" for none).
_COMMIT = LuaScript("""
local current = redis.call('GET', KEYS[1])
local version = 0
if current then version = tonumber(string.match(current, '^(%d+)|')) or -1 end
if version ~= tonumber(ARGV[1]) then
  return {current or '', redis.call('GET', KEYS[2]) or '', redis.call('GET', KEYS[3]) or ''}
end
if version == 0 and ARGV[8] == '1' then
  local resume = redis.call('GET', KEYS[2]) or ''
  local language = redis.call('GET', KEYS[3]) or ''
  if resume ~= ARGV[9] or language ~= ARGV[10] then return {'', resume, language} end
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[3])
if ARGV[4] == '' then
  redis.call('DEL', KEYS[2])
else
  redis.call('SET', KEYS[2], ARGV[4], 'EX', ARGV[5])
end
if ARGV[6] ~= '' then redis.call('SET', KEYS[3], ARGV[6], 'EX', ARGV[7]) end
return false
""")


# One hit on a counter whose window opens at its first hit. KEYS: the counter.
# ARGV: the window in seconds. Returns the hits so far.
_COUNT_HIT = LuaScript("""
local hits = redis.call('INCR', KEYS[1])
if hits == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return hits
""")


def session_redis_client(url: str, timeout: float = 0.5) -> aioredis.Redis:
    """The client the session store uses (the USSD benchmark's baseline uses it too)."""
    return aioredis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry_on_timeout=False,
        decode_responses=True,
        max_connections=256,
    )


class RedisSessionStore:
    """Sessions in Redis, shared by every gateway worker."""

    def __init__(self, client: aioredis.Redis, cache_size: int = 100_000) -> None:
        self._redis = client
        self._pipeline = AutoPipeline(client)
        self._recent: ExpiringMap[_CachedRecord] = ExpiringMap(cache_size)
        # The callers' context as this worker last wrote or saw it (resume point JSON,
        # language), each for as long as Redis keeps it at most.
        self._resumes: ExpiringMap[bytes] = ExpiringMap(cache_size)
        self._languages: ExpiringMap[str] = ExpiringMap(cache_size)

    @classmethod
    def from_url(cls, url: str, timeout: float = 0.5) -> RedisSessionStore:
        return cls(session_redis_client(url, timeout))

    def cached(self, session_key: str) -> SessionRecord | None:
        row = self._recent.get(session_key)
        return None if row is None else _from_row(row)

    def context(self, caller_key: str) -> tuple[SessionState | None, str | None]:
        resume = self._resumes.get(caller_key)
        return (
            None if resume is None else _state_from_json(resume),
            self._languages.get(caller_key),
        )

    async def commit(self, write: SessionWrite) -> None:
        record = write.record
        state_json = _state_json(record.state)
        resume = write.resume
        if resume is None or write.resume_ttl <= 0:
            resume_json = b""
        else:  # the resume point is often the new state itself: its JSON is at hand
            resume_json = state_json if resume is record.state else _state_json(resume)
        assumed = write.assumed_resume
        try:
            refused = await self._pipeline.run_script(
                _COMMIT,
                keys=(
                    SESSION_PREFIX + write.session_key,
                    RESUME_PREFIX + write.caller_key,
                    LANGUAGE_PREFIX + write.caller_key,
                ),
                args=(
                    write.expected_version,
                    _dumped(record, state_json),
                    write.session_ttl,
                    resume_json,
                    max(write.resume_ttl, 1),
                    write.language,
                    LANGUAGE_TTL,
                    "1" if write.assumes_no_context else "0",
                    b"" if assumed is None else _state_json(assumed),
                    write.assumed_language or "",
                ),
            )
        except (RedisError, OSError) as exc:
            self._recent.put(write.session_key, None, 0)
            self._resumes.put(write.caller_key, None, 0)
            self._languages.put(write.caller_key, None, 0)
            raise SessionStoreError(f"redis write failed: {type(exc).__name__}") from exc
        if refused is None:
            self._recent.put(write.session_key, _to_row(record, state_json), write.session_ttl)
            self._resumes.put(write.caller_key, resume_json or None, write.resume_ttl)
            if write.language:
                self._languages.put(write.caller_key, write.language, LANGUAGE_TTL)
            return
        try:
            session, resume_point, language = refused
        except (TypeError, ValueError) as exc:
            raise SessionStoreError("unreadable commit reply") from exc
        view = CallerView(
            session=_decode(session or None, SessionRecord.loads),
            resume=_decode(resume_point or None, _state),
            language=str(language) or None,
        )
        remembered = None if view.session is None else _to_row(view.session)
        self._recent.put(write.session_key, remembered, write.session_ttl)
        # What Redis holds now, for at most as long as Redis may keep it.
        self._resumes.put(
            write.caller_key,
            (resume_point.encode() if isinstance(resume_point, str) else resume_point) or None,
            write.resume_ttl,
        )
        self._languages.put(write.caller_key, view.language, LANGUAGE_TTL)
        raise Conflict(view)

    async def session(self, session_key: str) -> SessionRecord | None:
        try:
            raw = await self._redis.get(SESSION_PREFIX + session_key)
        except (RedisError, OSError) as exc:
            raise SessionStoreError(f"redis read failed: {type(exc).__name__}") from exc
        record: SessionRecord | None = _decode(raw, SessionRecord.loads)
        return record

    async def count_hit(self, key: str, window: int) -> int:
        try:
            hits = await self._pipeline.run_script(
                _COUNT_HIT, keys=(HITS_PREFIX + key,), args=(window,)
            )
        except (RedisError, OSError) as exc:
            raise SessionStoreError(f"redis write failed: {type(exc).__name__}") from exc
        return int(hits)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
