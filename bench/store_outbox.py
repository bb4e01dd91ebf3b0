"""Outbox claim-and-record rate of the store alone, on SQLite and on PostgreSQL.

    python bench/store_outbox.py [--rows 5000] [--batch 100] [--rounds 3]

One worker, in process, no channel: for each round a new broadcast to the same
``--rows`` subscribers is expanded into the outbox (not timed), then timed:

- claim + submit: ``claim_outbox`` batches of ``--batch`` and ``record_submissions``
  (one accepted part each) until the outbox is empty, as the broadcast worker does
  around its sends;
- receipts: ``record_deliveries`` in batches of ``--batch`` (one ``delivered`` each),
  as the receipt recorder does.

Prints rows per second, the median of the rounds, for each backend and phase. SQLite
uses a file in a temporary folder; PostgreSQL the local cluster (tests/install.sh) in a
database of its own, dropped at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.store.records import (  # noqa: E402
    Audience,
    DeliveryUpdate,
    NewBroadcast,
    Submission,
)
from gateway.store.sql_store import open_store  # noqa: E402
from tests.pg_support import postgres_database  # noqa: E402

T0 = 1_700_000_000.0
CHANNEL = "bench"


async def seed(store: Any, rows: int) -> None:
    for index in range(rows):
        person = await store.upsert_subscriber(f"h{index}", b"\x00sealed", "en", "sms", T0)
        await store.subscribe(person.id, "alerts", "", "en", T0)


async def one_round(store: Any, rows: int, batch: int, round_no: int) -> tuple[float, float]:
    broadcast_id = await store.create_broadcast(
        NewBroadcast({"en": "x"}, "en", Audience(("alerts",)), "bench", "b", T0 + 9e6), T0
    )
    while await store.expand_audience(broadcast_id, 5000, T0):
        pass
    prefix = f"r{round_no}-"
    began = time.perf_counter()
    sent: list[int] = []
    while True:
        claimed = await store.claim_outbox(broadcast_id, "w", batch, T0, 60)
        if not claimed:
            break
        await store.record_submissions(
            CHANNEL,
            [Submission(c.outbox_id, "accepted", (f"{prefix}{c.outbox_id}",)) for c in claimed],
            T0 + 1,
            max_attempts=3,
        )
        sent.extend(c.outbox_id for c in claimed)
    claim_seconds = time.perf_counter() - began
    assert len(sent) == len(set(sent)) == rows, "a row claimed twice or missed"
    began = time.perf_counter()
    for start in range(0, rows, batch):
        await store.record_deliveries(
            [
                DeliveryUpdate(CHANNEL, f"{prefix}{outbox_id}", "delivered", at=T0 + 2)
                for outbox_id in sent[start : start + batch]
            ]
        )
    receipt_seconds = time.perf_counter() - began
    counts = await store.outbox_counts(broadcast_id)
    assert dict(counts.counts) == {"delivered": rows}, counts
    return rows / claim_seconds, rows / receipt_seconds


async def measure(url: str, rows: int, batch: int, rounds: int) -> tuple[float, float]:
    store = await open_store(url, audit=None)  # writes no audit row
    try:
        await seed(store, rows)
        results = [await one_round(store, rows, batch, n) for n in range(rounds)]
    finally:
        await store.close()
    return (
        statistics.median(claim for claim, _ in results),
        statistics.median(receipt for _, receipt in results),
    )


async def main(rows: int, batch: int, rounds: int) -> None:
    figures: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory() as folder:
        figures["SQLite"] = await measure(str(Path(folder) / "bench.db"), rows, batch, rounds)
    async with postgres_database() as url:
        figures["PostgreSQL"] = await measure(url, rows, batch, rounds)
    print(
        f"\nStore outbox: {rows} rows, batches of {batch}, median of {rounds} rounds, "
        f"{os.cpu_count()} cores\n"
    )
    print("| backend | claim + submit (rows/s) | receipts (rows/s) |")
    print("|---|---:|---:|")
    for backend, (claim, receipt) in figures.items():
        print(f"| {backend} | {claim:,.0f} | {receipt:,.0f} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.rows, args.batch, args.rounds))
