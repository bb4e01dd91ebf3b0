"""Delivery receipts, group-committed.

A channel must acknowledge a receipt only once it is stored (the SMSC or Africa's
Talking resends otherwise), but one transaction per receipt caps throughput far
below a broadcast's send rate. :class:`ReceiptRecorder` gathers the receipts that
arrive within a few milliseconds into one transaction and releases every waiting
caller after the commit.
"""

from __future__ import annotations

import asyncio
import contextlib

import structlog

from gateway.store.port import Store
from gateway.store.records import DeliveryUpdate

log = structlog.get_logger(__name__)


def channel_family(channel: str) -> str:
    """``smpp:<smsc>`` -> ``smpp``. The sender records message ids per channel family:
    it does not learn which SMSC of a pool carried a message."""
    return channel.split(":", 1)[0]


class ReceiptRecorder:
    def __init__(self, store: Store, max_batch: int = 1000, max_delay: float = 0.01) -> None:
        self._store = store
        self._max_batch = max_batch
        self._max_delay = max_delay
        self._pending: list[tuple[DeliveryUpdate, asyncio.Future[None]]] = []
        self._flusher: asyncio.Task[None] | None = None
        self._full = asyncio.Event()

    async def record(self, update: DeliveryUpdate) -> None:
        """Returns once ``update`` is committed; raises the store's error otherwise."""
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._pending.append((update, future))
        if len(self._pending) >= self._max_batch:
            self._full.set()
        if self._flusher is None or self._flusher.done():
            self._flusher = asyncio.create_task(self._flush_loop())
        await future

    async def _flush_loop(self) -> None:
        while self._pending:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._full.wait(), self._max_delay)
            self._full.clear()
            batch, self._pending = (
                self._pending[: self._max_batch],
                self._pending[self._max_batch :],
            )
            try:
                await self._store.record_deliveries([update for update, _ in batch])
            except Exception as exc:
                log.error("receipts.store_failed", count=len(batch), error=type(exc).__name__)
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for _, future in batch:
                if not future.done():
                    future.set_result(None)

    async def close(self) -> None:
        if self._flusher is not None:
            await self._flusher
