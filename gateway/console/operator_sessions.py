"""Console sessions: kept in the store, so every worker sees the same ones.

A signed-in session (or one half-way through sign-in, waiting for the second factor)
is a row of ``operator_sessions`` named by a SHA-256 digest of its cookie value, so a
copy of the table hands out no live cookie. Ending a session deletes its row, and the
next request on any worker finds nothing: a password change, a disable or a role
change (the store deletes the rows in the same transaction) and "sign out
everywhere" take effect at once.

Before sign-in there is no row: the anonymous session is the random cookie value
alone, and its CSRF token is an HMAC of that value under a server key, so any worker
can check the login form's token without storing anything (a flood of visitors to
the login page writes nothing). Messages for anonymous visitors (signed out, session
ended) are kept in this process's memory, bounded: cosmetic if another worker answers.

A session is replaced by a new one, with a new id and a new CSRF token, at every
step of sign-in, so an id planted before sign-in is worth nothing after it. It ends
after ``idle_timeout`` seconds without a request, or ``absolute_timeout`` seconds
after sign-in; a session waiting for its second factor ends after
``PENDING_TIMEOUT``. The clock is an argument.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from gateway.store.operator_records import OperatorSessionRecord
from gateway.store.port import OperatorSecurityStore

SIGNED_IN = "signed_in"
SECOND_FACTOR = "second_factor"  # password right, code still to come
ENROL = "enrol"  # password right, must set up a second factor first
ANONYMOUS = "anonymous"
PENDING_TIMEOUT = 300.0
# last_seen is written at most this often (plus whenever the session's data changes),
# so browsing the console is not a write per request; the idle timeout is this coarse.
TOUCH_EVERY = 30.0
MAX_ANONYMOUS_FLASHES = 10_000


@dataclass
class ConsoleSession:
    id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen: float
    username: str | None = None
    role: str | None = None
    stage: str = ANONYMOUS
    authenticated_at: float = 0.0
    address: str = ""
    user_agent: str = ""
    flashes: list[str] = field(default_factory=list)
    # The phone simulator's engine state, per menu: the operator's own test call.
    simulator: dict[str, Any] = field(default_factory=dict)
    # Sign-in steps in progress (a TOTP secret being enrolled, sealed).
    pending: dict[str, Any] = field(default_factory=dict)
    # The service the operator is looking at (a tree id; "" until they choose).
    service: str = ""
    stored_data: str | None = field(default=None, repr=False)
    stored_authenticated_at: float = field(default=0.0, repr=False)
    written_at: float = field(default=0.0, repr=False)

    @property
    def signed_in(self) -> bool:
        return self.stage == SIGNED_IN and self.username is not None

    @property
    def persistent(self) -> bool:
        return self.stage != ANONYMOUS

    @property
    def id_hash(self) -> str:
        return session_digest(self.id)

    def flash(self, message: str) -> None:
        self.flashes.append(message)

    def take_flashes(self) -> list[str]:
        messages, self.flashes = self.flashes, []
        return messages

    def data_json(self) -> str:
        return json.dumps(
            {
                "flashes": self.flashes,
                "simulator": self.simulator,
                "pending": self.pending,
                "service": self.service,
            },
            sort_keys=True,
            separators=(",", ":"),
        )


def session_digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def well_formed(cookie: str) -> bool:
    return 20 <= len(cookie) <= 64 and all(c.isalnum() or c in "-_" for c in cookie)


class SessionStore:
    def __init__(
        self,
        store: OperatorSecurityStore,
        key: bytes,
        idle_timeout: float,
        absolute_timeout: float,
    ) -> None:
        self.store = store
        self._key = key
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self._anonymous_flashes: OrderedDict[str, list[str]] = OrderedDict()

    def anonymous_csrf(self, session_id: str) -> str:
        mac = hmac.new(self._key, b"console-anonymous-csrf|" + session_id.encode(), "sha256")
        return mac.hexdigest()

    def expired(self, record: OperatorSessionRecord, now: float) -> bool:
        if record.stage != SIGNED_IN:
            return now - record.created_at > PENDING_TIMEOUT
        return (
            now - record.last_seen > self.idle_timeout
            or now - record.created_at > self.absolute_timeout
        )

    def new(self, now: float, session_id: str | None = None) -> ConsoleSession:
        """An anonymous session (nothing stored): a fresh id, or the one a cookie named."""
        session_id = session_id or secrets.token_urlsafe(32)
        session = ConsoleSession(
            id=session_id,
            csrf_token=self.anonymous_csrf(session_id),
            created_at=now,
            last_seen=now,
        )
        session.flashes = self._anonymous_flashes.pop(session_id, [])
        return session

    async def get(self, cookie: str, now: float) -> tuple[ConsoleSession | None, bool]:
        """The session a cookie names, and whether a stored one had ended (expired or
        deleted). An unknown but well-formed cookie is an anonymous session."""
        if not well_formed(cookie):
            return None, False
        record = await self.store.get_operator_session(session_digest(cookie))
        if record is None:
            return self.new(now, cookie), False
        if self.expired(record, now):
            await self.store.delete_operator_session(record.id_hash)
            return None, True
        data = json.loads(record.data or "{}")
        session = ConsoleSession(
            id=cookie,
            csrf_token=record.csrf_token,
            created_at=record.created_at,
            last_seen=now,
            username=record.username,
            role=record.role,
            stage=record.stage,
            authenticated_at=record.authenticated_at,
            address=record.address,
            user_agent=record.user_agent,
            flashes=list(data.get("flashes", [])),
            simulator=dict(data.get("simulator", {})),
            pending=dict(data.get("pending", {})),
            service=str(data.get("service", "")),
            stored_data=record.data,
            stored_authenticated_at=record.authenticated_at,
            written_at=record.last_seen,
        )
        return session, False

    async def save(self, session: ConsoleSession, now: float) -> None:
        """Write back what changed (messages, simulator state, re-authentication), and
        last_seen every ``TOUCH_EVERY`` seconds. Never revives an ended session."""
        if not session.persistent:
            if session.flashes:
                self._anonymous_flashes[session.id] = session.flashes
                while len(self._anonymous_flashes) > MAX_ANONYMOUS_FLASHES:
                    self._anonymous_flashes.popitem(last=False)
            return
        data = session.data_json()
        changed_data = data != session.stored_data
        changed_auth = session.authenticated_at != session.stored_authenticated_at
        if not changed_data and not changed_auth and now - session.written_at < TOUCH_EVERY:
            return
        await self.store.touch_operator_session(
            session.id_hash,
            now,
            data if changed_data else None,
            session.authenticated_at if changed_auth else None,
        )
        session.stored_data = data
        session.stored_authenticated_at = session.authenticated_at
        session.written_at = now

    async def start(
        self,
        previous: ConsoleSession | None,
        username: str,
        role: str,
        stage: str,
        now: float,
        *,
        authenticated_at: float | None = None,
        pending: dict[str, Any] | None = None,
    ) -> ConsoleSession:
        """End ``previous`` and store a fresh session (new id, new CSRF token)."""
        if previous is not None:
            await self.end(previous)
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
            username=username,
            role=role,
            stage=stage,
            authenticated_at=now if authenticated_at is None else authenticated_at,
            address=previous.address if previous else "",
            user_agent=previous.user_agent if previous else "",
            pending=dict(pending or {}),
        )
        data = session.data_json()
        await self.store.save_operator_session(
            OperatorSessionRecord(
                id_hash=session.id_hash,
                username=username,
                role=role,
                stage=stage,
                csrf_token=session.csrf_token,
                created_at=now,
                last_seen=now,
                authenticated_at=session.authenticated_at,
                address=session.address[:64],
                user_agent=session.user_agent[:200],
                data=data,
            )
        )
        session.stored_data = data
        session.stored_authenticated_at = session.authenticated_at
        session.written_at = now
        return session

    async def end(self, session: ConsoleSession) -> None:
        self._anonymous_flashes.pop(session.id, None)
        if session.persistent:
            await self.store.delete_operator_session(session.id_hash)

    async def end_for_user(self, username: str, keep: ConsoleSession | None = None) -> int:
        """Sign ``username`` out everywhere (but ``keep``, the session asking)."""
        return await self.store.delete_operator_sessions(
            username, keep.id_hash if keep is not None else None
        )

    async def of_user(self, username: str, now: float) -> list[OperatorSessionRecord]:
        return [
            record
            for record in await self.store.list_operator_sessions(username)
            if record.stage == SIGNED_IN and not self.expired(record, now)
        ]
