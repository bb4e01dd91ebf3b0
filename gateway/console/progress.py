"""How far an alert has got, and how it got there: the progress bar and the chart.

The store keeps each recipient's current state; the delivery chart needs counts over
time, so the console samples them while an alert is sending (a small background
task, and every poll of the progress endpoint) and keeps a bounded timeline per
alert in memory. Pure apart from :class:`ProgressSampler`'s loop.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger(__name__)

CHART_SERIES = ("queued", "submitted", "delivered", "failed")
FINAL = ("delivered", "failed", "expired", "opted_out", "cancelled", "unknown")
MAX_POINTS = 240
ACTIVE_STATES = ("sending", "paused")


@dataclass(frozen=True)
class Progress:
    total: int
    processed: int  # handed to the channel or finished
    delivered: int
    failed: int
    percent: int
    finished: bool
    summary: str

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.processed,
            "delivered": self.delivered,
            "failed": self.failed,
            "percent": self.percent,
            "finished": self.finished,
            "summary": self.summary,
        }


def progress_of(state: str, audience: int, counts: Mapping[str, int]) -> Progress:
    """From stored row states only: a row counts as processed once the channel took it
    (``submitted``) or it ended. Neither moves back, so the bar never goes backwards;
    people not yet written to the outbox are in ``total`` but never ``processed``."""
    total = max(audience, sum(counts.values()))
    processed = sum(counts.get(name, 0) for name in ("submitted", *FINAL))
    delivered = counts.get("delivered", 0)
    failed = counts.get("failed", 0) + counts.get("expired", 0)
    # Finished for the page once the alert is closed and no receipt is awaited.
    finished = state in ("done", "cancelled") and counts.get("submitted", 0) == 0
    closed = state in ("done", "cancelled")
    percent = 100 if total == 0 and closed else (processed * 100 // total if total else 0)
    summary = (
        f"{processed} of {total} sent ({percent}%), {delivered} delivered, {failed} failed"
        + (f", {counts.get('opted_out', 0)} opted out" if counts.get("opted_out") else "")
        + (f", {counts.get('cancelled', 0)} withdrawn" if counts.get("cancelled") else "")
        + (f", {counts.get('unknown', 0)} unconfirmed" if counts.get("unknown") else "")
        + (f" — {state}" if state != "sending" else "")
    )
    return Progress(total, processed, delivered, failed, percent, finished, summary)


class Timelines:
    """Counts per alert over time, thinned to at most ``MAX_POINTS`` samples each."""

    def __init__(self) -> None:
        self._points: dict[int, list[tuple[float, dict[str, int]]]] = {}

    def add(self, alert_id: int, at: float, counts: Mapping[str, int]) -> None:
        points = self._points.setdefault(alert_id, [])
        sample = {name: int(counts.get(name, 0)) for name in CHART_SERIES}
        if points and points[-1][1] == sample and len(points) > 1:
            points[-1] = (at, sample)  # nothing moved: slide the last point forward
            return
        points.append((at, sample))
        if len(points) > MAX_POINTS:
            del points[1 : len(points) - MAX_POINTS + 1 : 2]  # keep the first, halve the rest

    def series(self, alert_id: int) -> tuple[list[float], dict[str, list[float]]]:
        """Sample times (POSIX seconds) and each series' values at those times."""
        points = self._points.get(alert_id, [])
        times = [at for at, _ in points]
        return times, {name: [float(p[name]) for _, p in points] for name in CHART_SERIES}


class ProgressSampler:
    """Samples every active alert's counts every ``interval`` seconds."""

    def __init__(
        self, service: Any, timelines: Timelines, clock: Callable[[], float], interval: float = 2.0
    ) -> None:
        self.service = service
        self.timelines = timelines
        self.clock = clock
        self.interval = interval

    async def sample_once(self) -> None:
        for status in await self.service.list(ACTIVE_STATES, limit=20):
            self.timelines.add(status.id, self.clock(), status.counts)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.sample_once()
            except Exception as exc:  # the sampler must never take the console down
                log.warning("console.progress_sample_failed", error=type(exc).__name__)

    async def stop(self, task: asyncio.Task[None]) -> None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
