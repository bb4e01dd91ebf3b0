"""The pure cores behind sign-in: the throttle and the session store (time is an argument)."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.console.operator_sessions import SessionStore
from gateway.console.sign_in_throttle import LoginThrottle


@settings(max_examples=100)
@given(st.lists(st.floats(min_value=0, max_value=5000), max_size=40))
def test_blocked_exactly_when_five_failures_fall_within_the_window(stamps: list[float]) -> None:
    throttle = LoginThrottle(max_failures=5, window=900)
    stamps = sorted(stamps)
    for at in stamps:
        throttle.record_failure(["user:x"], at)
    now = (stamps[-1] if stamps else 0) + 1
    recent = [at for at in stamps if at > now - 900]
    assert throttle.blocked(["user:x"], now) == (len(recent) >= 5)


def test_retry_after_counts_down_to_zero() -> None:
    throttle = LoginThrottle(max_failures=2, window=100)
    throttle.record_failure(["k"], 0)
    throttle.record_failure(["k"], 10)
    assert throttle.retry_after(["k"], 20) == 80
    assert throttle.retry_after(["k"], 101) == 0
    assert not throttle.blocked(["k"], 101)


def test_throttle_memory_is_bounded() -> None:
    throttle = LoginThrottle(max_failures=5, window=900, max_keys=100)
    for index in range(1000):
        throttle.record_failure([f"user:{index}"], float(index))
    assert len(throttle._failures) <= 100


@settings(max_examples=100)
@given(st.floats(min_value=0, max_value=10_000))
def test_session_lives_until_idle_or_absolute_timeout(gap: float) -> None:
    store = SessionStore(idle_timeout=600, absolute_timeout=3600)
    session = store.new(0.0)
    alive = store.get(session.id, gap) is not None
    assert alive == (gap <= 600)


def test_sign_in_replaces_the_session_and_its_token() -> None:
    store = SessionStore(idle_timeout=600, absolute_timeout=3600)
    anonymous = store.new(0.0)
    signed = store.sign_in(anonymous, "ada", "admin", 1.0)
    assert signed.id != anonymous.id and signed.csrf_token != anonymous.csrf_token
    assert store.get(anonymous.id, 2.0) is None
    assert store.get(signed.id, 2.0) is signed
    assert store.end_for_user("ada") == 1


def test_anonymous_flood_does_not_push_out_signed_in_operators() -> None:
    store = SessionStore(idle_timeout=600, absolute_timeout=3600, max_sessions=50)
    operator = store.sign_in(None, "ada", "admin", 0.0)
    for _ in range(500):
        store.new(1.0)
    assert len(store) <= 50
    assert store.get(operator.id, 2.0) is operator
