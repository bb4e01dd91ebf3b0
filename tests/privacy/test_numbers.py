"""The keyed hashes are HMAC-SHA256 (RFC 2104) exactly, whatever the key's length."""

from __future__ import annotations

import hashlib
import hmac

from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.numbers import PhoneHasher, normalise_msisdn
from gateway.settings import Secret


@given(
    key=st.text(min_size=1, max_size=200),
    number=st.text(max_size=40),
    purpose=st.sampled_from(["msisdn", "caller", "x"]),
)
def test_hash_is_the_standard_hmac(key: str, number: str, purpose: str) -> None:
    expected = hmac.new(
        key.encode(), f"{purpose}:{normalise_msisdn(number)}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    assert PhoneHasher(Secret(key)).hash(number, purpose) == expected


@given(
    key=st.text(min_size=1, max_size=200),
    session_id=st.text(max_size=80),
    caller=st.text(alphabet="0123456789abcdef", max_size=32),
)
def test_session_key_is_the_standard_hmac(key: str, session_id: str, caller: str) -> None:
    expected = hmac.new(
        key.encode(), f"session:africastalking:{session_id}:{caller}".encode(), hashlib.sha256
    ).hexdigest()[:32]
    assert PhoneHasher(Secret(key)).session(session_id, "africastalking", caller) == expected


def test_one_hasher_gives_the_same_answer_every_time() -> None:
    hasher = PhoneHasher(Secret("k" * 64))
    assert hasher.hash("+254700000001") == hasher.hash("254700000001")
    assert hasher.hash("+254700000001", "caller") != hasher.hash("+254700000001")
