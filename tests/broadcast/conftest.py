from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.africastalking.sms_sender import AfricasTalkingSMS
from gateway.broadcast.alert_service import AlertService
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.receipt_recorder import ReceiptRecorder
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import PROJECT_ROOT, RouteSettings, Secret, SMSCSettings
from gateway.smpp.pool import SMPPPool
from gateway.sms.keywords import load_catalog
from gateway.store.sql_store import SQLStore
from tests.alert_support import sent_alert
from tests.at_double import MESSAGING_PATH, ATDouble
from tests.audit_support import AUDIT_KEY, seal_at
from tests.broadcast.seeding import seed_subscribers
from tests.smpp.smsc_driver import FAST, Simulator

CALLBACK_SECRET = "callback-secret-0123456789"
HASH_KEY = "hash-key-" + "x" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()


def smpp_worker_env(
    data_dir: Path, db_path: Path, bind: dict[str, Any], ops_port: int, **variables: str
) -> dict[str, str]:
    """The environment of a ``python -m gateway broadcast run`` child over the test's
    store and keys, sending through one SMSC (``bind``, an entry of ``GATEWAY_SMSC``) and
    serving its ops endpoints on ``ops_port``; ``variables`` are more ``GATEWAY_`` ones."""
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(PROJECT_ROOT),
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_AUDIT_KEY": AUDIT_KEY.decode(),
        "GATEWAY_DB": str(db_path),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": "worker-callback-secret-0123",
        "GATEWAY_SMS_CHANNEL": "smpp",
        "GATEWAY_SMSC": json.dumps([bind]),
        "GATEWAY_WORKER_PORT": str(ops_port),
        "GATEWAY_LOG_FORMAT": "json",
        **{f"GATEWAY_{name}": value for name, value in variables.items()},
    }


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m gateway broadcast run`` in its own process, its output to ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "gateway", "broadcast", "run"],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


def number(index: int) -> str:
    """Test numbers: +254 7000 then five digits; the privacy tests grep for them."""
    return f"+2547000{index:05d}"


@dataclass
class Harness:
    store: SQLStore
    double: ATDouble
    sender: AfricasTalkingSMS
    subscriptions: SubscriptionService
    keywords: KeywordService
    inbox: SMSInbox
    alerts: AlertService
    vault: NumberVault
    callback_base: str
    http: aiohttp.ClientSession
    db_path: Path

    async def seed(self, count: int, topic: str = "hotlines", language: str = "en") -> None:
        for index in range(count):
            await self.subscriptions.join(number(index), "africastalking", topic, language, 1.0)


@pytest.fixture
async def harness(tmp_path: Path, aiohttp_server: Callable[..., Any]) -> AsyncIterator[Harness]:
    db_path = tmp_path / "gateway.db"
    store: SQLStore = await SQLStore.open(db_path, seal_at(tmp_path))
    double = ATDouble()
    double_server = await aiohttp_server(double.app())
    http = aiohttp.ClientSession()
    sender = AfricasTalkingSMS(
        http,
        str(double_server.make_url(MESSAGING_PATH)),
        double.username,
        Secret(double.api_key),
        max_recipients=50,
    )
    hasher = PhoneHasher(Secret(HASH_KEY))
    vault = NumberVault(Secret(ENCRYPTION_KEY))
    subscriptions = SubscriptionService(store, hasher, vault)
    catalog = load_catalog(PROJECT_ROOT / "content")
    keywords = KeywordService(subscriptions, catalog)
    receipts = ReceiptRecorder(store)
    inbox = SMSInbox(store, subscriptions, keywords, receipts, sender)
    callbacks = web.Application()
    callbacks.add_routes(create_sms_routes(inbox, Secret(CALLBACK_SECRET)))
    callback_server = await aiohttp_server(callbacks)
    base = str(callback_server.make_url("/africastalking/sms"))
    double.dlr_url = f"{base}/delivery?key={CALLBACK_SECRET}"
    double.optout_url = f"{base}/optout?key={CALLBACK_SECRET}"
    alerts = AlertService(store, [topic.code for topic in catalog.topics])
    yield Harness(
        store, double, sender, subscriptions, keywords, inbox, alerts, vault, base, http, db_path
    )
    await inbox.drain()
    await double_server.close()
    await callback_server.close()
    await receipts.close()
    await http.close()
    await store.close()


def row_states(
    db_path: Path, hasher: PhoneHasher, alert: int, numbers: list[str]
) -> dict[str, str]:
    """The state of ``alert``'s outbox row for each of ``numbers`` (read from SQLite)."""
    by_hash = {hasher.hash(n): n for n in numbers}
    with sqlite3.connect(db_path) as db:
        rows = db.execute(
            "SELECT s.msisdn_hash, o.state FROM outbox o JOIN subscribers s "
            "ON s.id = o.subscriber_id WHERE o.broadcast_id = ?",
            (alert,),
        ).fetchall()
    return {by_hash[h]: state for h, state in rows}


class Rig:
    """The broadcast path through a real SMPP pool, for the tests (and the reply benchmark)
    that drive node-smpp simulators: a SQLite store, the inbox receipts land in, an alert
    sent to seeded subscribers by the real worker, and what each row ended as. Its set-up
    (:meth:`open`) is also what the crash and SMPP-broadcast tests build their rigs on."""

    def __init__(self, tmp_path: Path) -> None:
        self.db_path = tmp_path / "gateway.db"
        self.hasher = PhoneHasher(Secret(HASH_KEY))
        self.vault = NumberVault(Secret(ENCRYPTION_KEY))

    async def open(self) -> None:
        self.store: SQLStore = await SQLStore.open(self.db_path, seal_at(self.db_path.parent))
        subscriptions = SubscriptionService(self.store, self.hasher, self.vault)
        catalog = load_catalog(PROJECT_ROOT / "content")
        self.receipts = ReceiptRecorder(self.store)
        keywords = KeywordService(subscriptions, catalog)
        self.inbox = SMSInbox(self.store, subscriptions, keywords, self.receipts, None)
        self.alerts = AlertService(self.store, [topic.code for topic in catalog.topics])

    async def close(self) -> None:
        await self.receipts.close()
        await self.store.close()

    def pool(
        self, smscs: list[SMSCSettings], routes: Sequence[RouteSettings] = (), **more: Any
    ) -> SMPPPool:
        return SMPPPool(
            smscs, self.inbox, tuning=FAST, number_key=self.hasher.hash, routes=routes, **more
        )

    @asynccontextmanager
    async def bound_pool(
        self,
        smscs: list[SMSCSettings],
        routes: Sequence[RouteSettings] = (),
        *,
        stop_after: Sequence[Simulator] = (),
        **more: Any,
    ) -> AsyncIterator[SMPPPool]:
        """A pool over ``smscs`` (and ``routes``; ``more`` as SMPPPool takes it), started
        and bound (30 s at most). On leaving, the pool stops, then each simulator in
        ``stop_after`` (read then: a test may add one it started inside)."""
        pool = self.pool(smscs, routes, **more)
        await pool.start()
        try:
            await asyncio.wait_for(pool.wait_bound(), 30)
            yield pool
        finally:
            await pool.stop()
            for simulator in stop_after:
                await simulator.stop()

    async def broadcast(self, pool: SMPPPool, tps: float = 3000.0) -> int:
        alert = await sent_alert(self.alerts)
        options = WorkerOptions(
            channel="smpp", tps=tps, sms_prefix="Info:", batch_size=50, poll_interval=0.05
        )
        worker = BroadcastWorker(self.store, pool, self.vault, options)
        await asyncio.wait_for(worker.run(until_idle=True), 120)
        return alert

    async def broadcast_final(
        self, pool: SMPPPool, total: int, tps: float = 3000.0
    ) -> tuple[int, dict[str, int]]:
        """An alert to every subscriber through ``pool``; its id and its rows' counts once
        ``total`` of them are final (or 90 s passed)."""
        alert = await self.broadcast(pool, tps)
        return alert, await self.wait_final(alert, total)

    async def wait_final(self, alert: int, total: int, within: float = 90.0) -> dict[str, int]:
        counts: dict[str, int] = {}
        for _ in range(int(within / 0.1)):
            counts = dict((await self.store.outbox_counts(alert)).counts)
            if sum(v for k, v in counts.items() if k not in ("queued", "claimed", "submitted")) >= (
                total
            ):
                break
            await asyncio.sleep(0.1)
        return counts

    def states_by_number(self, alert: int, numbers: list[str]) -> dict[str, str]:
        return row_states(self.db_path, self.hasher, alert, numbers)


def seed(rig: Rig, total: int) -> list[str]:
    numbers = [number(index) for index in range(total)]
    seed_subscribers(rig.db_path, rig.hasher, rig.vault, numbers)
    return numbers


@pytest.fixture
async def pool_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    made = Rig(tmp_path)
    await made.open()
    yield made
    await made.close()
