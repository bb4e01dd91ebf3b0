"""A send-rate cap that holds in every window, not on average. Pure: time is an argument.

A sliding log of the last ``capacity`` send times: a send is allowed when fewer than
``capacity`` sends happened in the last ``window`` seconds. With ``capacity`` =
floor(tps) and ``window`` >= 1 s no 1-second window ever holds more than ``tps``
sends on this clock. ``margin`` widens the window so that the cap still holds on the
SMSC's clock when the network delays one send more than the next.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Protocol


class RateLimiter:
    def __init__(self, tps: float, margin: float = 0.0) -> None:
        if tps <= 0:
            raise ValueError("tps must be positive")
        self.capacity = max(1, math.floor(tps))
        self.window = max(1.0, self.capacity / tps) + margin
        self._sent: deque[float] = deque()

    def wait(self, now: float) -> float:
        """How long until a send is allowed (0.0: now), counting nothing."""
        sent = self._sent
        while sent and now - sent[0] >= self.window:
            sent.popleft()
        if len(sent) < self.capacity:
            return 0.0
        return max(sent[0] + self.window - now, 1e-6)

    def reserve(self, now: float) -> float:
        """0.0 and the send is counted, or how many seconds to wait before asking again."""
        wait = self.wait(now)
        if wait == 0.0:
            self._sent.append(now)
        return wait


class Limiter(Protocol):
    def reserve(self, now: float) -> float: ...


class BothLimits:
    """A bind's own cap and a budget shared with other workers: a send needs both.

    The bind's cap is asked first without counting, so a slot of the shared budget is
    spent only when the bind may really send (a shared slot is the scarcer one).
    """

    def __init__(self, own: RateLimiter, shared: Limiter) -> None:
        self.own = own
        self.shared = shared

    def reserve(self, now: float) -> float:
        wait = self.own.wait(now)
        if wait > 0:
            return wait
        wait = self.shared.reserve(now)
        if wait > 0:
            return wait
        return self.own.reserve(now)
