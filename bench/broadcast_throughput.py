"""Broadcast figures: durable throughput with receipts, whole broadcasts by the command.

Prints figures; not a test. Channel: the node-smpp simulator (tests/smsc), one
transceiver bind, window 100, receipts on. Run: ``python bench/broadcast_throughput.py
[--quick]`` (``--quick``: 5,000, 20,000 and 100,000 recipients).

1. A durable broadcast to 20,000 subscribers (SQLite file, WAL), in-process: messages
   per second from the first submit_sm to the last delivery receipt recorded.
2. 200,000 subscribers, the whole broadcast at full rate by the real command
   (``python -m gateway broadcast run`` in a subprocess): the first submit timed from
   the moment the command was started, messages per second from the first submit to
   the last receipt recorded, and the worker's peak RSS over the whole run (the
   kernel's ru_maxrss, from wait4).
3. 1,000,000 subscribers by the same command: the audience's expansion into the
   outbox while sending at full rate (never paused), the first submit from the
   command's start, and the peak RSS (VmHWM) when the expansion ends.

A run counts only when it is complete: in 1 and 2, every row final and every message
delivered (its receipt recorded); in 3, the whole audience expanded. Otherwise the
script says what is missing and exits 1, with no figure for that run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

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
from gateway.store.audit_anchor import AuditAnchor, AuditSeal  # noqa: E402
from gateway.store.sql_store import SQLStore  # noqa: E402
from tests.broadcast.seeding import seed_subscribers  # noqa: E402
from tests.smpp.smsc_driver import Simulator, smsc_settings  # noqa: E402

HASH_KEY = "bench-hash-key-" + "x" * 32
AUDIT_KEY = "bench-audit-key-" + "x" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()
CONTENT = ROOT / "content"


class IncompleteRun(Exception):
    """A run that did not finish: no figure is printed for it."""


def bench_seal(workdir: Path) -> AuditSeal:
    """The audit key the worker gets too (approving an alert writes audit rows)."""
    return AuditSeal(AUDIT_KEY.encode(), AuditAnchor(workdir / "audit-anchor.jsonl"))


def numbers(count: int) -> list[str]:
    return [f"+2547{index:08d}" for index in range(count)]


async def create_sending_alert(store: SQLStore) -> int:
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
    store: SQLStore = await SQLStore.open(db_path, bench_seal(workdir))
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
        counts = await store.outbox_counts(alert)
        if counts.total != count or counts["delivered"] != count:
            raise IncompleteRun(
                f"durable broadcast: rows {dict(counts.counts)}; every row must be final "
                "and delivered"
            )
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


def _first_submit_at(log_path: Path) -> float:
    """The wall-clock time of the worker's ``broadcast.first_submit`` log line."""
    for line in log_path.read_text(errors="replace").splitlines():
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if event.get("event") == "broadcast.first_submit":
            stamp = dt.datetime.strptime(event["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ")
            return stamp.replace(tzinfo=dt.UTC).timestamp()
    return float("nan")


async def command_run(count: int, workdir: Path, whole: bool, deadline: float) -> dict[str, float]:
    """One broadcast sent by the real ``gateway broadcast run`` command, in a subprocess.

    ``whole``: until every row is final (every message receipted), then the worker is
    stopped; its peak RSS over the whole run is the kernel's (``wait4``'s ru_maxrss).
    Otherwise until the audience is fully expanded, sending at full rate all along;
    the peak RSS is VmHWM at that moment. The first submit is timed from the moment
    the command was started (its ``broadcast.first_submit`` log line's timestamp).
    """
    db_path = workdir / f"run-{count}.db"
    store: SQLStore = await SQLStore.open(db_path, bench_seal(workdir))
    began = time.monotonic()
    seed_subscribers(
        db_path, PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY)), numbers(count)
    )
    seeded_in = time.monotonic() - began
    smsc = await Simulator.start(lifetime=int(deadline) + 600)
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
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATA_DIR": str(workdir),
        "GATEWAY_DB": str(db_path),
        "GATEWAY_CONTENT": str(CONTENT),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_AUDIT_KEY": AUDIT_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": "bench-callback-secret-000",
        "GATEWAY_SMS_CHANNEL": "smpp",
        "GATEWAY_SMSC": smsc_json,
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_WORKER_PORT": "0",
    }
    alert = await create_sending_alert(store)
    log_path = workdir / f"worker-{count}.log"
    reader = sqlite3.connect(db_path)
    expansion_seconds = float("nan")
    expansion_hwm = 0
    finished_at = float("nan")
    usage: list[Any] = []
    with log_path.open("wb") as log_file:
        command_started = time.time()
        started = time.monotonic()
        # A plain Popen, reaped by wait4 below (asyncio's child watcher would reap it
        # first and the peak RSS would be lost).
        worker = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "gateway", "broadcast", "run",
             "--tps", "1000000", "--batch-size", "500", "--concurrency", "4"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
        # The kernel keeps the child's peak RSS; wait4 hands it over when it exits.
        waiter = threading.Thread(target=lambda: usage.append(os.wait4(worker.pid, 0)[2]))
        waiter.start()
        try:
            while waiter.is_alive() and time.monotonic() - started < deadline:
                await asyncio.sleep(0.2)
                done = reader.execute(
                    "SELECT expansion_done FROM broadcasts WHERE id = ?", (alert,)
                ).fetchone()[0]
                if not done:
                    continue
                if expansion_seconds != expansion_seconds:  # nan: first time seen
                    expansion_seconds = time.monotonic() - started
                    expansion_hwm = _rss_kib(worker.pid)[1]
                    if not whole:
                        break
                open_rows = reader.execute(
                    "SELECT count(*) FROM outbox WHERE broadcast_id = ? AND state IN "
                    "('queued', 'claimed', 'submitted')",
                    (alert,),
                ).fetchone()[0]
                if open_rows == 0:
                    break
        finally:
            worker.send_signal(signal.SIGTERM)
            waiter.join(timeout=60)
            if waiter.is_alive():
                worker.kill()
                waiter.join()
    first_submit, last_final = reader.execute(
        "SELECT min(submitted_at), max(final_at) FROM outbox WHERE broadcast_id = ?", (alert,)
    ).fetchone()
    reader.close()
    sent = (await smsc.stats())["accepted"]
    await smsc.stop()
    counts = await store.outbox_counts(alert)
    await store.close()
    if whole:
        finished_at = last_final or float("nan")
        if counts.total != count or counts["delivered"] != count:
            raise IncompleteRun(
                f"{count} recipients: rows {dict(counts.counts)} after {deadline:.0f}s; "
                "every row must be final and delivered"
            )
    elif expansion_seconds != expansion_seconds:
        raise IncompleteRun(f"{count} recipients: audience not expanded in {deadline:.0f}s")
    first_submit_at = _first_submit_at(log_path)
    return {
        "seeded_seconds": seeded_in,
        "outbox_rows": counts.total,
        "delivered": counts["delivered"],
        "first_submit_ms": (first_submit_at - command_started) * 1000,
        "peak_rss_mib": (usage[0].ru_maxrss if usage else 0) / 1024,
        "expansion_hwm_mib": expansion_hwm / 1024,
        "expansion_seconds": expansion_seconds,
        "rate": counts["delivered"] / (finished_at - first_submit) if whole else float("nan"),
        "sent": sent,
    }


async def main(quick: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    workdir = Path(tempfile.mkdtemp(prefix="broadcast-bench-"))
    try:
        count = 5_000 if quick else 20_000
        print(f"1. durable broadcast, {count} subscribers, node-smpp 0.5.1 simulator, receipts on")
        figures = await durable_throughput(count, workdir)
        print(
            f"   {figures['delivered']:.0f} delivered, every row final, in "
            f"{figures['seconds']:.2f} s (first submit -> last receipt recorded): "
            f"{figures['rate']:.0f} msg/s; submits seen by the SMSC: {figures['submits_at_smsc']}"
        )
        whole = 20_000 if quick else 200_000
        print(
            f"2. {whole:,} subscribers, the whole broadcast at full rate by the command "
            "(python -m gateway broadcast run), receipts on"
        )
        result = await command_run(whole, workdir, whole=True, deadline=1800)
        print(
            f"   seeded in {result['seeded_seconds']:.1f} s; {result['delivered']:,} of "
            f"{result['outbox_rows']:,} rows delivered, every row final; first submit "
            f"{result['first_submit_ms']:,.0f} ms after the command started; "
            f"{result['rate']:,.0f} msg/s (first submit -> last receipt recorded); peak RSS "
            f"over the whole run {result['peak_rss_mib']:.0f} MiB (ru_maxrss); audience expanded "
            f"in {result['expansion_seconds']:.1f} s"
        )
        big = 100_000 if quick else 1_000_000
        print(f"3. {big:,} subscribers: the expansion, sending at full rate, by the command")
        result = await command_run(big, workdir, whole=False, deadline=1800)
        print(
            f"   seeded in {result['seeded_seconds']:.1f} s; audience of {result['outbox_rows']:,} "
            f"expanded in {result['expansion_seconds']:.1f} s while sending "
            f"({result['sent']:,} submitted by then); first submit "
            f"{result['first_submit_ms']:,.0f} ms after the command started; peak RSS "
            f"{result['expansion_hwm_mib']:.0f} MiB up to the end of the expansion (VmHWM), "
            f"{result['peak_rss_mib']:.0f} MiB over the process's life (ru_maxrss)"
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    try:
        asyncio.run(main(parser.parse_args().quick))
    except IncompleteRun as exc:
        print(f"FAILED, run incomplete: {exc}")
        sys.exit(1)
