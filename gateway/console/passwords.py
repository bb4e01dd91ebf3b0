"""Operator passwords: argon2id hashes computed off the event loop, and the ASVS policy.

Policy (OWASP ASVS 5.0, 6.2): at least 12 characters, at most 1024, any characters,
no composition rules; refused when it is the username, or found (ignoring case, and
ignoring digits and symbols added at the end: ``password1234``) in the list of common
and breached passwords shipped in ``data/common-passwords.txt.gz``.

argon2 takes ~50 ms of CPU and 64 MiB per check by design. Run on the event loop, 60
parallel sign-ins stalled every USSD request behind them for over a second; here each
check runs in a small thread pool (argon2-cffi releases the GIL while it hashes), so
the loop keeps answering callers and at most ``workers`` hashes run at once, each on
one thread (one argon2 lane).
"""

from __future__ import annotations

import asyncio
import gzip
import os
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from gateway.errors import GatewayError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024
COMMON_PASSWORDS = Path(__file__).resolve().parent / "data" / "common-passwords.txt.gz"
_TRAILING_NOISE = "0123456789!@#$%^&*()-_=+.,;:?~ "


class PasswordPolicyError(GatewayError, ValueError):
    """A new password is too short, too long or otherwise refused; says why."""


@cache
def common_passwords() -> frozenset[str]:
    with gzip.open(COMMON_PASSWORDS, "rt", encoding="utf-8") as handle:
        return frozenset(line.strip().lower() for line in handle if line.strip())


def is_common(password: str) -> bool:
    lowered = password.strip().lower()
    known = common_passwords()
    return lowered in known or lowered.rstrip(_TRAILING_NOISE) in known


def check_policy(password: str, username: str = "") -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise PasswordPolicyError(
            f"the password must be at least {MIN_PASSWORD_LENGTH} characters long"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise PasswordPolicyError(f"the password must be at most {MAX_PASSWORD_LENGTH} characters")
    name = username.strip().lower()
    if name and (name == password.strip().lower() or (len(name) >= 4 and name in password.lower())):
        raise PasswordPolicyError("the password must not contain the username")
    if is_common(password):
        raise PasswordPolicyError(
            "this password is on a list of common or breached passwords; choose another"
        )


def default_workers() -> int:
    # Leave at least one core to the event loop.
    return max(1, (os.cpu_count() or 2) // 2)


class Passwords:
    """Hashes and checks passwords with argon2id (argon2-cffi's default variant)."""

    def __init__(self, hasher: PasswordHasher | None = None, workers: int | None = None) -> None:
        # One lane: argon2's C library runs a thread per lane, so the default four
        # lanes put four threads per check beside the event loop, whatever the pool's
        # size (bench/signin_load.py). Same memory (64 MiB) and passes (3); hashes made
        # with four lanes still verify, and are re-hashed at their next sign-in.
        self._hasher = hasher or PasswordHasher(parallelism=1)
        # Verifying against this when the user is unknown costs the same time as a real
        # check, so the response time does not tell which usernames exist.
        self._decoy = self._hasher.hash("decoy password that matches nothing")
        self._workers = workers or default_workers()
        self._pool: ThreadPoolExecutor | None = None

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="argon2")
        return self._pool

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        if len(password) > MAX_PASSWORD_LENGTH:
            return False
        try:
            return self._hasher.verify(stored_hash or self._decoy, password) and bool(stored_hash)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    async def hash_async(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self.hash, password
        )

    async def verify_async(self, stored_hash: str | None, password: str) -> bool:
        return await asyncio.get_running_loop().run_in_executor(
            self._executor(), self.verify, stored_hash, password
        )

    def needs_rehash(self, stored_hash: str) -> bool:
        try:
            return self._hasher.check_needs_rehash(stored_hash)
        except InvalidHashError:
            return False

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
