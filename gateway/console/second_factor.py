"""The second factor: TOTP (RFC 6238, 30-second steps, 6 digits) and recovery codes.

Pure apart from randomness: the time is an argument. A code is accepted for the step
before, at, or after ``now`` (clock drift), and the store records the step used so
the same code never works twice (``use_totp_step``). The secret is kept sealed with
the gateway's encryption key; recovery codes are kept as keyed hashes and each works
once. The enrolment QR code is drawn here as inline SVG: nothing is fetched, no
third party ever sees the secret.
"""

from __future__ import annotations

import hashlib
import hmac
import io
import secrets

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken

STEP_SECONDS = 30
DRIFT_STEPS = 1
RECOVERY_CODES = 10
ISSUER = "Gateway console"
# Admins and approvers publish what callers see and manage accounts: they must have one.
REQUIRED_FOR_ROLES = frozenset({"admin", "approver"})


def required_for(role: str | None) -> bool:
    return role in REQUIRED_FOR_ROLES


def new_secret() -> str:
    return pyotp.random_base32()


def step_at(now: float) -> int:
    return int(now // STEP_SECONDS)


def code_at(secret: str, step: int) -> str:
    return pyotp.HOTP(secret).at(step)


def matching_step(secret: str, code: str, now: float) -> int | None:
    """The time step ``code`` belongs to (within the drift allowed), or None."""
    code = "".join(code.split())
    if len(code) != 6 or not code.isdigit():
        return None
    current = step_at(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if hmac.compare_digest(code_at(secret, step), code):
            return step
    return None


def provisioning_uri(secret: str, username: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=ISSUER)


def qr_svg(text: str) -> str:
    """``text`` as a QR code, an SVG element to place inline in a page."""
    buffer = io.BytesIO()
    segno.make(text, error="m").save(
        buffer, kind="svg", scale=5, xmldecl=False, svgns=True, nl=False, title="QR code"
    )
    return buffer.getvalue().decode("utf-8")


def new_recovery_codes(count: int = RECOVERY_CODES) -> list[str]:
    # 10 characters of base32: 50 bits each, so a keyed hash (not argon2) is enough.
    alphabet = "abcdefghjkmnpqrstuvwxyz23456789"
    return [
        "-".join("".join(secrets.choice(alphabet) for _ in range(5)) for _ in range(2))
        for _ in range(count)
    ]


def normalise_recovery_code(code: str) -> str:
    return "".join(char for char in code.lower() if char.isalnum())


def recovery_hash(key: bytes, code: str) -> str:
    return hmac.new(key, normalise_recovery_code(code).encode(), hashlib.sha256).hexdigest()


def looks_like_recovery_code(code: str) -> bool:
    return len(normalise_recovery_code(code)) == 10


def seal(fernet_key: str, secret: str) -> str:
    return Fernet(fernet_key.encode()).encrypt(secret.encode()).decode()


def unseal(fernet_key: str, sealed: str) -> str | None:
    try:
        return Fernet(fernet_key.encode()).decrypt(sealed.encode()).decode()
    except (InvalidToken, ValueError):
        return None
