"""Login throttling: refuse sign-in after repeated failures, per username and per address.

A pure object: the caller passes the time. Failures older than the window are
forgotten; the number of keys kept is bounded so a flood of made-up usernames cannot
grow memory without limit.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable


class LoginThrottle:
    """At most ``max_failures`` failed sign-ins per key within ``window`` seconds."""

    def __init__(self, max_failures: int = 5, window: float = 900.0, max_keys: int = 50_000):
        if max_failures < 1 or window <= 0:
            raise ValueError("max_failures must be >= 1 and window > 0")
        self.max_failures = max_failures
        self.window = window
        self.max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}

    def _recent(self, key: str, now: float) -> deque[float]:
        stamps = self._failures.get(key)
        if stamps is None:
            return deque()
        while stamps and stamps[0] <= now - self.window:
            stamps.popleft()
        if not stamps:
            del self._failures[key]
        return stamps

    def blocked(self, keys: Iterable[str], now: float) -> bool:
        """True when any key has used up its failures within the window."""
        return any(len(self._recent(key, now)) >= self.max_failures for key in keys)

    def retry_after(self, keys: Iterable[str], now: float) -> float:
        """Seconds until every key is allowed again (0 when none is blocked)."""
        wait = 0.0
        for key in keys:
            stamps = self._recent(key, now)
            if len(stamps) >= self.max_failures:
                oldest_counted = stamps[len(stamps) - self.max_failures]
                wait = max(wait, oldest_counted + self.window - now)
        return wait

    def record_failure(self, keys: Iterable[str], now: float) -> None:
        for key in keys:
            stamps = self._recent(key, now)
            if not stamps:
                if len(self._failures) >= self.max_keys:
                    self._prune(now)
                self._failures[key] = stamps
            stamps.append(now)
            # Only the newest max_failures stamps ever matter.
            while len(stamps) > self.max_failures:
                stamps.popleft()

    def clear(self, key: str) -> None:
        self._failures.pop(key, None)

    def _prune(self, now: float) -> None:
        for key in list(self._failures):
            self._recent(key, now)
        while len(self._failures) >= self.max_keys:
            # Still full of live keys: forget the one whose last failure is oldest.
            oldest = min(self._failures, key=lambda key: self._failures[key][-1])
            del self._failures[oldest]
