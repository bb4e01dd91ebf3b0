"""Outbox throughput on PostgreSQL with one and with two worker processes.

    python bench/scaleout_outbox.py [--rows 20000] [--batch 100]

Each worker claims rows (``FOR UPDATE SKIP LOCKED`` under a lease) and records them as
submitted, as the broadcast worker does around its sends, with no channel in between:
this measures the store alone. The figures are rows per second for the whole outbox,
and a check that every row was claimed exactly once. Needs the local PostgreSQL
(tests/install.sh); uses a database of its own, dropped at the end. Bounded by --rows.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.store.records import Audience, NewBroadcast, Submission  # noqa: E402
from gateway.store.sql_store import SQLStore  # noqa: E402
from tests.pg_support import postgres_database  # noqa: E402

T0 = 1_700_000_000.0


async def worker(url: str, broadcast_id: int, name: str, batch: int) -> None:
    store = await SQLStore.open(url)
    claimed_ids: list[int] = []
    try:
        while True:
            claimed = await store.claim_outbox(broadcast_id, name, batch, T0, 60)
            if not claimed:
                break
            await store.record_submissions(
                "bench",
                [Submission(c.outbox_id, "accepted", (f"{name}-{c.outbox_id}",)) for c in claimed],
                T0 + 1,
                max_attempts=3,
            )
            claimed_ids.extend(c.outbox_id for c in claimed)
    finally:
        await store.close()
    print(json.dumps(claimed_ids))


async def seed(url: str, rows: int) -> int:
    store = await SQLStore.open(url)
    try:
        async with store.transaction() as db:
            await db.execute(
                "INSERT INTO subscribers (msisdn_hash, msisdn_sealed, language, channel, "
                "consent_at, created_at, updated_at) SELECT 'h' || n, '\\x00'::bytea, 'en', "
                "'sms', $1, $1, $1 FROM generate_series(1, $2) AS n",
                T0,
                rows,
            )
            await db.execute(
                "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
                "SELECT id, 'alerts', '', 'en', $1 FROM subscribers",
                T0,
            )
        broadcast_id: int = await store.create_broadcast(
            NewBroadcast({"en": "x"}, "en", Audience(("alerts",)), "bench", "b", T0 + 9e6), T0
        )
        while await store.expand_audience(broadcast_id, 5000, T0):
            pass
        return broadcast_id
    finally:
        await store.close()


async def reset(url: str) -> None:
    store = await SQLStore.open(url)
    try:
        async with store.transaction() as db:
            await db.execute("DELETE FROM outbox_messages")
            await db.execute(
                "UPDATE outbox SET state = 'queued', claimed_by = NULL, lease_until = NULL, "
                "attempts = 0, parts = 0, submitted_at = NULL"
            )
    finally:
        await store.close()


def run_workers(url: str, broadcast_id: int, count: int, batch: int) -> tuple[float, list[int]]:
    began = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, __file__, "--worker", url, str(broadcast_id), f"w{index}", str(batch)],
            env=dict(os.environ, PYTHONPATH=str(ROOT), GATEWAY_LOG_LEVEL="warning"),
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for index in range(count)
    ]
    claimed: list[int] = []
    for process in processes:
        out, _ = process.communicate(timeout=600)
        claimed.extend(json.loads(out.splitlines()[-1]))
    return time.perf_counter() - began, claimed


async def main(rows: int, batch: int) -> None:
    async with postgres_database() as url:
        broadcast_id = await seed(url, rows)
        results = {}
        for count in (1, 2):
            await reset(url)
            seconds, claimed = await asyncio.to_thread(run_workers, url, broadcast_id, count, batch)
            assert len(claimed) == len(set(claimed)) == rows, "a row claimed twice or missed"
            results[count] = rows / seconds
    print(f"\nOutbox on PostgreSQL: {rows} rows, claims of {batch}, {os.cpu_count()} cores\n")
    print("| workers | rows/s (claim + record, process start included) |")
    print("|---:|---:|")
    for count, rate in results.items():
        print(f"| {count} | {rate:.0f} |")
    print(f"\nscaling 2 workers / 1 worker: {results[2] / results[1]:.2f}x; every row once: yes")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _, _, url, broadcast, name, size = sys.argv
        asyncio.run(worker(url, int(broadcast), name, int(size)))
    else:
        parser = argparse.ArgumentParser()
        parser.add_argument("--rows", type=int, default=20000)
        parser.add_argument("--batch", type=int, default=100)
        args = parser.parse_args()
        asyncio.run(main(args.rows, args.batch))
