"""A token bucket for the send rate. Pure: the time is an argument."""

from __future__ import annotations


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved up."""

    def __init__(self, rate: float, burst: float, now: float) -> None:
        if rate <= 0 or burst <= 0:
            raise ValueError("rate and burst must be positive")
        self.rate = rate
        self.burst = burst
        self._tokens = burst
        self._at = now

    def _refill(self, now: float) -> None:
        if now > self._at:
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now

    def available(self, now: float) -> int:
        self._refill(now)
        return int(self._tokens)

    def wait_for(self, count: int, now: float) -> float:
        """Seconds until ``count`` tokens are available (0 when they are)."""
        self._refill(now)
        missing = min(count, self.burst) - self._tokens
        return 0.0 if missing <= 0 else missing / self.rate

    def take(self, count: int, now: float) -> None:
        self._refill(now)
        self._tokens -= count
