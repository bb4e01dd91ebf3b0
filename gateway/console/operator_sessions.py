"""Console sessions, held in the server's memory and named by a random cookie value.

A session exists before sign-in (it carries the CSRF token of the login form) and is
replaced by a new one, with a new id and a new CSRF token, at sign-in, so an id
planted before sign-in is worth nothing after it. Sessions end after
``idle_timeout`` seconds without a request, or ``absolute_timeout`` seconds after
sign-in, whichever comes first. The clock is an argument.

Keeping them in memory means a restart signs everybody out, which is acceptable for
a handful of operators and keeps session ids out of the database.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from typing import Any

MAX_SESSIONS = 10_000


@dataclass
class ConsoleSession:
    id: str = field(repr=False)
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen: float
    username: str | None = None
    role: str | None = None
    flashes: list[str] = field(default_factory=list)
    # When the account was last re-read from the store (disabled, role changed).
    checked_at: float = 0.0
    # The phone simulator's engine state, per menu: the operator's own test call.
    simulator: dict[str, Any] = field(default_factory=dict)

    @property
    def signed_in(self) -> bool:
        return self.username is not None

    def flash(self, message: str) -> None:
        self.flashes.append(message)

    def take_flashes(self) -> list[str]:
        messages, self.flashes = self.flashes, []
        return messages


def _key(session_id: str) -> str:
    # Only a digest of the id is kept as the key, so a dump of this process's memory
    # listing the keys does not hand out live cookies.
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    def __init__(
        self, idle_timeout: float, absolute_timeout: float, max_sessions: int = MAX_SESSIONS
    ) -> None:
        self.idle_timeout = idle_timeout
        self.absolute_timeout = absolute_timeout
        self.max_sessions = max_sessions
        self._sessions: dict[str, ConsoleSession] = {}

    def __len__(self) -> int:
        return len(self._sessions)

    def expired(self, session: ConsoleSession, now: float) -> bool:
        return (
            now - session.last_seen > self.idle_timeout
            or now - session.created_at > self.absolute_timeout
        )

    def new(self, now: float) -> ConsoleSession:
        if len(self._sessions) >= self.max_sessions:
            self._prune(now)
        session = ConsoleSession(
            id=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            last_seen=now,
        )
        self._sessions[_key(session.id)] = session
        return session

    def get(self, session_id: str, now: float) -> ConsoleSession | None:
        """The live session for a cookie value, touched; None if unknown or expired."""
        key = _key(session_id)
        session = self._sessions.get(key)
        if session is None:
            return None
        if self.expired(session, now):
            del self._sessions[key]
            return None
        session.last_seen = now
        return session

    def sign_in(
        self, previous: ConsoleSession | None, username: str, role: str, now: float
    ) -> ConsoleSession:
        """End ``previous`` and start a fresh signed-in session (new id, new CSRF token)."""
        if previous is not None:
            self.end(previous)
        session = self.new(now)
        session.username = username
        session.role = role
        return session

    def end(self, session: ConsoleSession) -> None:
        self._sessions.pop(_key(session.id), None)

    def end_for_user(self, username: str) -> int:
        """Sign ``username`` out everywhere (password changed, account disabled)."""
        keys = [key for key, item in self._sessions.items() if item.username == username]
        for key in keys:
            del self._sessions[key]
        return len(keys)

    def _prune(self, now: float) -> None:
        for key, session in list(self._sessions.items()):
            if self.expired(session, now):
                del self._sessions[key]
        if len(self._sessions) < self.max_sessions:
            return
        # Still full: drop the oldest anonymous sessions (someone is flooding the login
        # page); signed-in operators keep theirs.
        anonymous = sorted(
            (item.last_seen, key) for key, item in self._sessions.items() if not item.signed_in
        )
        for _, key in anonymous[: max(1, len(anonymous) // 2)]:
            del self._sessions[key]
