from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pacing.token_bucket import TokenBucket


@settings(max_examples=200)
@given(
    rate=st.floats(min_value=1, max_value=5000),
    burst=st.integers(min_value=1, max_value=500),
    steps=st.lists(
        st.tuples(st.floats(min_value=0, max_value=2), st.integers(min_value=1, max_value=600)),
        max_size=40,
    ),
)
def test_a_sender_that_waits_as_told_never_exceeds_rate_plus_burst(
    rate: float, burst: int, steps: list[tuple[float, int]]
) -> None:
    now = 0.0
    bucket = TokenBucket(rate, burst, now)
    taken = 0
    for pause, want in steps:
        now += pause
        now += bucket.wait_for(want, now)
        count = max(1, min(want, bucket.available(now)))
        bucket.take(count, now)
        taken += count
        assert taken <= rate * now + burst + 1e-6 * rate * now + 1


def test_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="positive"):
        TokenBucket(0, 10, 0.0)
