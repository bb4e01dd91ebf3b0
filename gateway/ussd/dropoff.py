"""Aggregate drop-off counts: how many sessions ended on which screen, and how.

Fed by end-of-session notifications. Holds counts only (day, screen, status), never
who: operators see where people give up, not who they are. The store keeps them
(:class:`gateway.server.runtime.StoreDropOff`).
"""

from __future__ import annotations

import datetime as dt
from typing import Protocol


class SessionEndRecorder(Protocol):
    async def record_end(
        self, day: dt.date, screen_id: str, status: str, service_code: str = ""
    ) -> None:
        """Count one end; ``service_code`` (the code the session came on) picks the
        service whose figures it joins."""

    async def ends(
        self, since: dt.date, service: str = ""
    ) -> list[tuple[dt.date, str, str, int]]: ...
