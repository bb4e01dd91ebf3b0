"""Records of the operators' security state: sign-in counters, sessions, second factors.

Kept apart from :mod:`gateway.store.records` (the messaging records) because they are
only read and written by the console's sign-in and session code.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class SignInCounter:
    """Sign-in attempts counted under one throttle key (see ``console.sign_in_throttle``)."""

    failures: int
    last_at: float


@dataclass(frozen=True)
class OperatorSessionRecord:
    """A console session as the store keeps it: named by a digest of its cookie value,
    never by the value itself, so a copy of the table hands out no live cookie."""

    id_hash: str
    username: str
    role: str
    stage: str  # "signed_in", or a step of sign-in still to do ("second_factor", "enrol")
    csrf_token: str = field(repr=False)
    created_at: float
    last_seen: float
    authenticated_at: float  # last time the operator gave password (and code): re-auth
    address: str = ""
    user_agent: str = ""
    data: str = "{}"  # JSON: flashes, the phone simulator's state, enrolment in progress


@dataclass(frozen=True)
class SecondFactor:
    """An operator's TOTP secret (sealed with the encryption key) and recovery codes
    (keyed hashes; each works once)."""

    username: str
    totp_sealed: str = field(repr=False)
    last_step: int
    recovery_hashes: tuple[str, ...] = field(repr=False)
    enrolled_at: float
