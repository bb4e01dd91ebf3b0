"""kill -9 of the sender mid-broadcast, then a restart: nothing lost, few duplicates.

The worker runs as a real subprocess (``python -m gateway broadcast run``) against a
SQLite file and the AT double; receipts come back through the callback routes served
by this test process on its own connection to the same file (as the HTTP server and
the worker would in production).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.broadcast.alert_service import AlertService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import PROJECT_ROOT, Secret
from gateway.store.sql_store import SQLStore
from tests.alert_support import ROAD_CLOSED_FR, sent_alert
from tests.at_double import MESSAGING_PATH, ATDouble
from tests.audit_support import AUDIT_KEY
from tests.broadcast.conftest import CALLBACK_SECRET, ENCRYPTION_KEY, HASH_KEY, number
from tests.broadcast.conftest import Rig as PoolRig
from tests.broadcast.seeding import seed_subscribers
from tests.smpp.smsc_driver import eventually

pytestmark = pytest.mark.slow

BATCH = 100
CONCURRENCY = 2
WINDOW = BATCH * CONCURRENCY  # rows a killed worker may have had in flight


@dataclass
class Rig:
    tmp: Path
    db_path: Path
    store: SQLStore
    double: ATDouble
    alerts: AlertService
    env: dict[str, str]
    logs: list[Path]

    def start_worker(self, tps: float = 1500.0) -> subprocess.Popen[bytes]:
        log_path = self.tmp / f"worker-{len(self.logs)}.log"
        self.logs.append(log_path)
        handle = log_path.open("wb")
        return subprocess.Popen(
            [
                sys.executable, "-m", "gateway", "broadcast", "run", "--until-idle",
                "--lease", "2", "--batch-size", str(BATCH), "--concurrency", str(CONCURRENCY),
                "--tps", str(tps),
            ],
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
        )  # fmt: skip

    async def approved_alert(self, expires_in: float) -> int:
        return await sent_alert(self.alerts, ROAD_CLOSED_FR, expires_in=expires_in)


@pytest.fixture
async def rig(
    tmp_path: Path, aiohttp_server: Callable[..., Any], pool_rig: PoolRig
) -> AsyncIterator[Rig]:
    """The worker's children over ``pool_rig``'s store (its set-up, not its pool), the
    receipts coming back through the callback routes to its inbox."""
    db_path = pool_rig.db_path
    callbacks = web.Application()
    callbacks.add_routes(create_sms_routes(pool_rig.inbox, Secret(CALLBACK_SECRET)))
    callback_server = await aiohttp_server(callbacks)
    double = ATDouble()
    double.dlr_url = str(callback_server.make_url("/africastalking/sms/delivery")) + (
        f"?key={CALLBACK_SECRET}"
    )
    double_server = await aiohttp_server(double.app())
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_AUDIT_KEY": AUDIT_KEY.decode(),
        "GATEWAY_DB": str(db_path),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": CALLBACK_SECRET,
        "GATEWAY_SMS_CHANNEL": "africastalking",
        "GATEWAY_AT_SMS_URL": str(double_server.make_url(MESSAGING_PATH)),
        "GATEWAY_AT_USERNAME": double.username,
        "GATEWAY_AT_API_KEY": double.api_key,
        "GATEWAY_SMS_PREFIX": "Info:",
        "GATEWAY_WORKER_PORT": "0",  # no /metrics needed; two workers must not collide
    }
    yield Rig(tmp_path, db_path, pool_rig.store, double, pool_rig.alerts, env, [])
    await double_server.close()
    await callback_server.close()


async def wait_exit(process: subprocess.Popen[bytes], limit: float = 180.0) -> int:
    for _ in range(int(limit / 0.05)):
        code = process.poll()
        if code is not None:
            return code
        await asyncio.sleep(0.05)
    process.kill()
    raise AssertionError("worker did not finish in time")


async def wait_final(rig: Rig, alert: int) -> dict[str, int]:
    for _ in range(1200):
        counts = await rig.store.outbox_counts(alert)
        if counts.pending == 0 and counts["submitted"] == 0 and counts.total:
            return dict(counts.counts)
        await asyncio.sleep(0.05)
    raise AssertionError(f"rows not final: {dict(counts.counts)}")


async def test_kill_9_mid_broadcast_then_restart_loses_nothing(rig: Rig) -> None:
    numbers = [number(index) for index in range(10_000)]
    hasher = PhoneHasher(Secret(HASH_KEY))
    seed_subscribers(rig.db_path, hasher, NumberVault(Secret(ENCRYPTION_KEY)), numbers)
    alert = await rig.approved_alert(expires_in=3600)
    first = rig.start_worker()
    await eventually(lambda: rig.double.total >= 3000, within=120, every=0.01)
    os.kill(first.pid, signal.SIGKILL)
    assert await wait_exit(first) == -signal.SIGKILL
    sent_before_restart = rig.double.total
    assert sent_before_restart < 10_000  # killed mid-broadcast
    second = rig.start_worker()
    assert await wait_exit(second) == 0
    counts = await wait_final(rig, alert)
    assert counts == {"delivered": 10_000}
    assert len(rig.double.per_number) == 10_000  # everyone got it
    duplicates = rig.double.total - len(rig.double.per_number)
    assert duplicates <= WINDOW
    assert max(rig.double.per_number.values()) <= 2
    assert (await rig.alerts.status(alert)).state == "done"

    # Privacy: no test number in clear in the database (dump and raw files) or the logs.
    # The database holds long float digit runs (timestamps), so there the probe looks for
    # the full international form; the logs are probed for the 9-digit national number.
    international = {n.lstrip("+") for n in numbers}
    national = {n[-9:] for n in numbers}
    assert _numbers_in(f"x {numbers[7]} y", international)  # the probe works
    database = [await _dump(rig)]
    database += [path.read_bytes().decode("latin-1") for path in rig.tmp.glob("gateway.db*")]
    for text in database:
        assert not _numbers_in(text, international)
    for path in rig.logs:
        assert not _numbers_in(path.read_text(errors="replace"), national)


async def test_restart_after_expiry_sends_nothing_more(rig: Rig) -> None:
    numbers = [number(index) for index in range(2_000)]
    seed_subscribers(
        rig.db_path, PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY)), numbers
    )
    alert = await rig.approved_alert(expires_in=3600)
    first = rig.start_worker(tps=200.0)
    await eventually(lambda: rig.double.total >= 200, within=120, every=0.01)
    os.kill(first.pid, signal.SIGKILL)
    await wait_exit(first)
    # The alert expires while no worker runs (after the last message the killed worker
    # sent). Its expiry is moved to now rather than waited for, so a worker slow to
    # start on a loaded machine cannot expire it before sending anything. The write runs
    # off the event loop: receipts still arriving are stored by this process's loop, and
    # blocking it while their transaction waits would lock the file until the timeout.
    await asyncio.to_thread(_expire_now, rig.db_path, alert)
    await asyncio.sleep(0.05)
    broadcast = await rig.store.get_broadcast(alert)
    assert broadcast is not None and broadcast.expires_at < time.time()
    before = rig.double.total
    second = rig.start_worker(tps=200.0)
    assert await wait_exit(second) == 0
    assert rig.double.total == before
    assert [m for m in rig.double.received if m.at > broadcast.expires_at] == []
    counts = await wait_final(rig, alert)
    assert set(counts) <= {"delivered", "expired"} and counts["expired"] > 0
    assert sum(counts.values()) == 2_000


def _expire_now(db_path: Path, alert: int) -> None:
    with sqlite3.connect(db_path, timeout=60) as connection:  # waits out a busy writer
        connection.execute(
            "UPDATE broadcasts SET expires_at = ? WHERE id = ?", (time.time(), alert)
        )


async def _dump(rig: Rig) -> str:
    connection = sqlite3.connect(rig.db_path)
    try:
        return "\n".join(connection.iterdump())
    finally:
        connection.close()


def _numbers_in(text: str, wanted: set[str]) -> list[str]:
    """Every window of every digit run that is one of ``wanted`` (all the same length)."""
    size = len(next(iter(wanted)))
    found = []
    for run in re.findall(rf"\d{{{size},}}", text):
        windows = (run[i : i + size] for i in range(len(run) - size + 1))
        found += [window for window in windows if window in wanted]
    return found
