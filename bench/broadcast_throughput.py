"""Broadcast figures: durable throughput with receipts, and a million-recipient alert.

Prints figures; not a test. Channel: the node-smpp simulator (tests/smsc), one
transceiver bind, window 100, receipts on. Run: ``python bench/broadcast_throughput.py
[--quick]`` (``--quick``: 5,000 recipients and 100,000 for the second figure).

1. A durable broadcast to 20,000 subscribers (SQLite file, WAL): messages per second
   from the first submit_sm to the last delivery receipt recorded in the store.
   Every row is claimed, submitted, recorded, and receipted through the store.
2. A 1,000,000-subscriber broadcast run by ``python -m gateway broadcast run`` in a
   subprocess: time from the worker picking the alert up to its first submit, and the
   worker's peak RSS while it expands the whole audience into the outbox and sends.
   The run is paused once the expansion has finished and a few seconds more were sent.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from gateway.broadcast.alert_service import AlertDraft, AlertService  # noqa: E402
from gateway.broadcast.inbox import SMSInbox  # noqa: E402
from gateway.broadcast.keyword_service import KeywordService  # noqa: E402
from gateway.broadcast.receipt_recorder import ReceiptRecorder  # noqa: E402
from gateway.broadcast.subscriptions import SubscriptionService  # noqa: E402
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions  # noqa: E402
from gateway.privacy.numbers import NumberVault, PhoneHasher  # noqa: E402
from gateway.settings import Secret  # noqa: E402
from gateway.smpp.esme import LinkTuning  # noqa: E402
from gateway.smpp.pool import SMPPPool  # noqa: E402
from gateway.sms.keywords import load_catalog  # noqa: E402
from gateway.store.sqlite import SQLiteStore  # noqa: E402
from tests.broadcast.seeding import seed_subscribers  # noqa: E402
from tests.smpp.smsc_driver import Simulator, smsc_settings  # noqa: E402

HASH_KEY = "bench-hash-key-" + "x" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()
CONTENT = ROOT / "content"


def numbers(count: int) -> list[str]:
    return [f"+2547{index:08d}" for index in range(count)]


async def create_sending_alert(store: SQLiteStore) -> int:
    alerts = AlertService(store)
    now = time.time()
    draft = AlertDraft(
        texts={
            "en": "The north crossing is closed until Monday. Use the east road.",
            "fr": "Le passage nord est fermé jusqu'à lundi. Prenez la route est.",
            "ar": "المعبر الشمالي مغلق حتى الاثنين. استخدم الطريق الشرقي.",
            "so": "Marinka waqooyi waa xiran yahay ilaa Isniinta. Isticmaal waddada bari.",
        },
        fallback_language="en",
        topics=("hotlines",),
        source="bench",
        author="alice",
        expires_at=now + 7200,
    )
    alert = await alerts.create(draft, now)
    await alerts.approve(alert, "bob", now)
    await alerts.send(alert, "bob", now)
    return alert


async def durable_throughput(count: int, workdir: Path) -> dict[str, float]:
    db_path = workdir / "durable.db"
    hasher = PhoneHasher(Secret(HASH_KEY))
    vault = NumberVault(Secret(ENCRYPTION_KEY))
    store: SQLiteStore = await SQLiteStore.open(db_path)
    seed_subscribers(db_path, hasher, vault, numbers(count))
    subscriptions = SubscriptionService(store, hasher, vault)
    receipts = ReceiptRecorder(store)
    keywords = KeywordService(subscriptions, load_catalog(CONTENT))
    inbox = SMSInbox(store, subscriptions, keywords, receipts, None)
    smsc = await Simulator.start(lifetime=900)
    await smsc.configure(dlr=True, record_bodies=False)
    settings = smsc_settings(smsc.port, window=100, tps=1e6)
    pool = SMPPPool([settings], inbox, tuning=LinkTuning(), number_key=hasher.hash)
    await pool.start()
    try:
        async with asyncio.timeout(10):
            await pool.wait_bound()
        alert = await create_sending_alert(store)
        options = WorkerOptions(
            channel="smpp", tps=1e6, sms_prefix="Info:", batch_size=500, concurrency=4
        )
        worker = BroadcastWorker(store, pool, vault, options)
        running = asyncio.create_task(worker.run(until_idle=True))
        delivered = 0
        for _ in range(60_000):
            row = await store.fetchone(
                "SELECT count(*) FROM outbox WHERE broadcast_id = ? AND state = 'delivered'",
                (alert,),
            )
            delivered = int(row[0]) if row else 0
            if delivered >= count:
                break
            await asyncio.sleep(0.02)
        last_receipt = time.monotonic()
        await running
        first = worker.first_submit_at or last_receipt
        stats = await smsc.stats()
    finally:
        await pool.stop()
        await smsc.stop()
        await receipts.close()
        await store.close()
    span = last_receipt - first
    return {
        "delivered": delivered,
        "seconds": span,
        "rate": delivered / span if span > 0 else 0.0,
        "submits_at_smsc": stats["accepted"],
    }


def _rss_kib(pid: int) -> tuple[int, int]:
    """(VmRSS, VmHWM) in KiB from /proc."""
    values = {"VmRSS": 0, "VmHWM": 0}
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in values:
                values[key] = int(rest.split()[0])
    except (OSError, ValueError):
        pass
    return values["VmRSS"], values["VmHWM"]


async def million(count: int, workdir: Path) -> dict[str, float]:
    db_path = workdir / "million.db"
    store: SQLiteStore = await SQLiteStore.open(db_path)
    began = time.monotonic()
    seed_subscribers(
        db_path, PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY)), numbers(count)
    )
    seeded_in = time.monotonic() - began
    smsc = await Simulator.start(lifetime=1800)
    await smsc.configure(dlr=True, record_bodies=False)
    smsc_json = json.dumps(
        [
            {
                "name": "sim",
                "host": "127.0.0.1",
                "port": smsc.port,
                "system_id": "gateway",
                "password": "secret",
                "window": 100,
                "tps": 1e6,
            }
        ]
    )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(workdir),
        "GATEWAY_DB": str(db_path),
        "GATEWAY_CONTENT": str(CONTENT),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": "bench-callback-secret-000",
        "GATEWAY_SMS_CHANNEL": "smpp",
        "GATEWAY_SMSC": smsc_json,
        "GATEWAY_LOG_FORMAT": "json",
    }
    alert = await create_sending_alert(store)
    log_path = workdir / "million-worker.log"
    with log_path.open("wb") as log_file:
        worker = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "gateway", "broadcast", "run", "--until-idle",
            "--tps", "1000000", "--batch-size", "500", "--concurrency", "4",
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        peak_rss = 0
        expanded_at: float | None = None
        expansion_seconds = float("nan")
        started = time.monotonic()
        reader = sqlite3.connect(db_path)
        try:
            while worker.returncode is None:
                rss, hwm = _rss_kib(worker.pid)
                peak_rss = max(peak_rss, rss, hwm)
                done = reader.execute(
                    "SELECT expansion_done FROM broadcasts WHERE id = ?", (alert,)
                ).fetchone()[0]
                if done and expanded_at is None:
                    expanded_at = time.monotonic()
                    expansion_seconds = expanded_at - started
                if expanded_at is not None and time.monotonic() - expanded_at > 5:
                    await AlertService(store).pause(alert, "bench", time.time())
                    expanded_at = float("inf")
                if time.monotonic() - started > 900:
                    worker.kill()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(worker.wait(), 0.1)
        finally:
            reader.close()
    sent = (await smsc.stats())["accepted"]
    await smsc.stop()
    counts = await store.outbox_counts(alert)
    await store.close()
    first_ms = float("nan")
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "broadcast.first_submit":
            first_ms = float(event["after_ms"])
    return {
        "seeded_seconds": seeded_in,
        "outbox_rows": counts.total,
        "first_submit_ms": first_ms,
        "peak_rss_mib": peak_rss / 1024,
        "expansion_seconds": expansion_seconds,
        "sent_before_pause": sent,
        "exit_code": worker.returncode,
    }


async def main(quick: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    workdir = Path(tempfile.mkdtemp(prefix="broadcast-bench-"))
    try:
        count = 5_000 if quick else 20_000
        print(f"1. durable broadcast, {count} subscribers, node-smpp 0.5.1 simulator, receipts on")
        figures = await durable_throughput(count, workdir)
        print(
            f"   {figures['delivered']:.0f} delivered in {figures['seconds']:.2f} s "
            f"(first submit -> last receipt recorded): {figures['rate']:.0f} msg/s; "
            f"submits seen by the SMSC: {figures['submits_at_smsc']}"
        )
        big = 100_000 if quick else 1_000_000
        print(f"2. {big} subscribers, worker subprocess (python -m gateway broadcast run)")
        result = await million(big, workdir)
        print(
            f"   seeded in {result['seeded_seconds']:.1f} s; outbox rows {result['outbox_rows']}; "
            f"first submit {result['first_submit_ms']:.0f} ms after pick-up; "
            f"peak RSS {result['peak_rss_mib']:.0f} MiB; audience expanded in "
            f"{result['expansion_seconds']:.1f} s while sending; sent before pause "
            f"{result['sent_before_pause']}; worker exit {result['exit_code']}"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
