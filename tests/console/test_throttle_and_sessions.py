"""The pure cores behind sign-in: the throttle's decisions and the client address
(time and inputs are arguments; no I/O)."""

from __future__ import annotations

import ipaddress

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.console.client_address import client_address
from gateway.console.sign_in_throttle import (
    ACCOUNT,
    PAIR,
    SignInKeys,
    succeeded,
    take_attempt,
)
from gateway.store.operator_records import SignInCounter


def _run(keys: SignInKeys, counters: dict[str, SignInCounter], now: float) -> bool:
    attempt, changes = take_attempt(keys, counters, now)
    for key, counter in changes.items():
        if counter is None:
            counters.pop(key, None)
        else:
            counters[key] = counter
    return attempt.allowed


@settings(max_examples=60)
@given(st.integers(min_value=1, max_value=200))
def test_a_burst_at_one_instant_tries_at_most_the_free_attempts(burst: int) -> None:
    counters: dict[str, SignInCounter] = {}
    keys = SignInKeys.of("ada", "203.0.113.7")
    allowed = sum(_run(keys, counters, 1000.0) for _ in range(burst))
    assert allowed == min(burst, PAIR.free)


@settings(max_examples=60)
@given(st.lists(st.floats(min_value=0, max_value=50), min_size=1, max_size=60))
def test_attempts_after_the_free_ones_are_spaced_by_growing_delays(gaps: list[float]) -> None:
    counters: dict[str, SignInCounter] = {}
    keys = SignInKeys.of("ada", "203.0.113.7")
    now = 0.0
    allowed_at: list[float] = []
    for gap in gaps:
        now += gap
        if _run(keys, counters, now):
            allowed_at.append(now)
    for index in range(PAIR.free, len(allowed_at)):
        # the attempt after the n-th failure waited at least delay(n)
        assert allowed_at[index] - allowed_at[index - 1] >= PAIR.delay(index) - 1e-9


def test_another_address_is_not_slowed_by_a_guesser() -> None:
    counters: dict[str, SignInCounter] = {}
    guesser = SignInKeys.of("ada", "198.51.100.1")
    for _ in range(20):
        _run(guesser, counters, 0.0)
    assert not _run(guesser, counters, 1.0)
    assert _run(SignInKeys.of("ada", "203.0.113.9"), counters, 1.0)
    assert _run(SignInKeys.of("eddie", "198.51.100.1"), counters, 1.0)


def test_the_account_limit_slows_a_many_address_guesser_by_a_minute_at_most() -> None:
    counters: dict[str, SignInCounter] = {}
    for index in range(ACCOUNT.free):
        assert _run(SignInKeys.of("ada", f"10.0.{index // 250}.{index % 250}"), counters, 0.0)
    team = SignInKeys.of("ada", "203.0.113.9")
    assert not _run(team, counters, 1.0)
    assert _run(team, counters, ACCOUNT.max_delay + 1)


def test_success_clears_the_pair_and_gives_back_its_attempt() -> None:
    counters: dict[str, SignInCounter] = {}
    keys = SignInKeys.of("ada", "203.0.113.7")
    for _ in range(3):
        _run(keys, counters, 0.0)
    for key, counter in succeeded(keys, counters).items():
        if counter is None:
            counters.pop(key, None)
        else:
            counters[key] = counter
    assert keys.pair not in counters
    assert counters[keys.address].failures == 2


TRUSTED = (ipaddress.ip_network("127.0.0.1/32"), ipaddress.ip_network("10.1.0.0/16"))


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy() -> None:
    assert client_address("198.51.100.1", ["203.0.113.7"], TRUSTED) == "198.51.100.1"
    assert client_address("127.0.0.1", ["203.0.113.7"], ()) == "127.0.0.1"
    assert client_address("127.0.0.1", ["203.0.113.7"], TRUSTED) == "203.0.113.7"


def test_the_client_is_the_first_untrusted_hop_from_the_right() -> None:
    # A client cannot choose its address by sending its own X-Forwarded-For: the
    # proxy appends the real one, and only trusted hops hand over.
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.7"], TRUSTED) == "203.0.113.7"
    assert client_address("127.0.0.1", ["1.2.3.4, 203.0.113.7, 10.1.2.3"], TRUSTED) == (
        "203.0.113.7"
    )
    assert client_address("127.0.0.1", ["junk"], TRUSTED) == "invalid"
    assert client_address("127.0.0.1", [], TRUSTED) == "127.0.0.1"
