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


class RateLimiter:
    def __init__(self, tps: float, margin: float = 0.0) -> None:
        if tps <= 0:
            raise ValueError("tps must be positive")
        self.capacity = max(1, math.floor(tps))
        self.window = max(1.0, self.capacity / tps) + margin
        self._sent: deque[float] = deque()

    def reserve(self, now: float) -> float:
        """0.0 and the send is counted, or how many seconds to wait before asking again."""
        sent = self._sent
        while sent and now - sent[0] >= self.window:
            sent.popleft()
        if len(sent) < self.capacity:
            sent.append(now)
            return 0.0
        return max(sent[0] + self.window - now, 1e-6)
