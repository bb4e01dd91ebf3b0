"""Phone numbers: keyed hashes for look-ups, encryption for the few we must keep.

No phone number is ever stored, logged or used as a key in clear. Everything that
needs to recognise a caller again (USSD resume, subscriber look-up, dedup) uses
:func:`PhoneHasher.hash`, an HMAC-SHA256 keyed by ``GATEWAY_HASH_KEY``. A subscriber's
number, which the gateway needs in order to send them an SMS, is stored encrypted
with Fernet (AES-128-CBC + HMAC) under ``GATEWAY_ENCRYPTION_KEY``, a key that lives
outside the database.
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.fernet import Fernet, InvalidToken

from gateway.errors import GatewayError
from gateway.privacy.phone_numbers import ascii_digits
from gateway.settings import Secret


def normalise_msisdn(number: str) -> str:
    """The digits of an E.164 number, so keyed hashes are taken over E.164.

    Every channel turns a number into E.164 where it enters
    (:mod:`gateway.privacy.phone_numbers`); this only drops the ``+`` (hashes made
    before that rule, over international digits, stay the same) and, as a second line
    of defence, folds any other script's digits to ASCII."""
    if number[1:].isdigit() and number.isascii() and number[:1] == "+":
        return number[1:].lstrip("0")  # E.164 already: the usual case, on every request
    digits = "".join(char for char in ascii_digits(number) if char.isascii() and char.isdigit())
    return digits.lstrip("0") if digits else number.strip()


class PhoneHasher:
    """Keyed, non-reversible identifiers for phone numbers.

    Every USSD request takes two of these (its session and its caller), so the key is
    set up once, here (``hmac``'s keyed state), and each identifier continues a copy
    of it: the same digest as ``hmac.new(key, message, sha256)`` for less work.
    """

    def __init__(self, key: Secret) -> None:
        self._keyed = hmac.new(key.reveal_bytes(), digestmod=hashlib.sha256)

    def _hmac_hex(self, message: bytes) -> str:
        keyed = self._keyed.copy()
        keyed.update(message)
        return keyed.hexdigest()[:32]

    def hash(self, number: str, purpose: str = "msisdn") -> str:
        """A hex HMAC of the normalised number; ``purpose`` separates uses of one key."""
        return self._hmac_hex(f"{purpose}:{normalise_msisdn(number)}".encode())

    def session(self, session_id: str, channel: str, caller_key: str = "") -> str:
        """A key for an aggregator's session id (which can embed the number at some
        vendors), bound to the caller's key: one caller cannot reach another's session."""
        return self._hmac_hex(f"session:{channel}:{session_id}:{caller_key}".encode())


class DecryptionError(GatewayError, ValueError):
    """A stored ciphertext does not open with the configured key."""


class NumberVault:
    """Encrypts subscribers' numbers for storage; only the sender opens them."""

    def __init__(self, key: Secret) -> None:
        self._fernet = Fernet(key.reveal_bytes())

    def seal(self, number: str) -> bytes:
        return self._fernet.encrypt(number.encode())

    def open(self, token: bytes) -> str:
        try:
            return self._fernet.decrypt(token).decode()
        except InvalidToken as exc:
            raise DecryptionError("subscriber number does not decrypt with this key") from exc
