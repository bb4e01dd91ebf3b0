"""Aggregate drop-off counts: how many sessions ended on which screen, and how.

Fed by end-of-session notifications. Holds counts only (day, screen, status), never
who: operators see where people give up, not who they are.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Protocol


class SessionEndRecorder(Protocol):
    async def record_end(self, day: dt.date, screen_id: str, status: str) -> None: ...

    async def ends(self, since: dt.date) -> list[tuple[dt.date, str, str, int]]: ...


class MemoryDropOffCounter:
    """In-process counts: the embedded default until a store takes them."""

    def __init__(self) -> None:
        self._counts: Counter[tuple[dt.date, str, str]] = Counter()

    async def record_end(self, day: dt.date, screen_id: str, status: str) -> None:
        self._counts[(day, screen_id, status)] += 1

    async def ends(self, since: dt.date) -> list[tuple[dt.date, str, str, int]]:
        return sorted(
            (day, screen, status, count)
            for (day, screen, status), count in self._counts.items()
            if day >= since
        )
