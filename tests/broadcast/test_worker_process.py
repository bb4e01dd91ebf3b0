"""``gateway broadcast run`` is built by the same runtime as ``serve``: it paces at the
SMSC grant (not GATEWAY_BROADCAST_TPS), answers USSD arriving on its shared bind with
the real menu, serves /metrics, /healthz and /readyz on GATEWAY_WORKER_PORT, and
unbinds on SIGTERM. The worker is a real subprocess; the SMSC is node-smpp."""

from __future__ import annotations

import asyncio
import json
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.broadcast.alert_service import AlertService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Secret
from gateway.sms import encoding
from gateway.store.sql_store import SQLStore
from tests.alert_support import sent_alert
from tests.audit_support import seal_at
from tests.broadcast.conftest import (
    ENCRYPTION_KEY,
    HASH_KEY,
    number,
    smpp_worker_env,
    start_worker,
)
from tests.broadcast.seeding import seed_subscribers
from tests.servers import free_port
from tests.smpp.smsc_driver import Simulator, smsc_bind

pytestmark = pytest.mark.slow

GRANT = 400.0  # the SMSC's rate for this bind
SLOW_DEFAULT = 5.0  # GATEWAY_BROADCAST_TPS: a worker paced by it would need a minute
RECIPIENTS = 300


@pytest.fixture
async def smsc(tmp_path: Path) -> AsyncIterator[Simulator]:
    simulator = await Simulator.start(record=tmp_path / "submits.jsonl", lifetime=300)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def poll(url: str, want: int, limit: float) -> str:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == want:
                        return await response.text()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered {want} within {limit} s")


async def test_the_worker_process_paces_at_the_grant_answers_ussd_serves_metrics_and_unbinds(
    tmp_path: Path, smsc: Simulator
) -> None:
    db_path = tmp_path / "gateway.db"
    store = await SQLStore.open(db_path, seal_at(tmp_path))
    hasher, vault = PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY))
    seed_subscribers(db_path, hasher, vault, [number(i) for i in range(RECIPIENTS)])
    alert = await sent_alert(AlertService(store))
    ops_port = free_port()
    bind = smsc_bind(smsc.port, tps=GRANT, service_code="*384#", source_addr="Info")
    env = smpp_worker_env(tmp_path, db_path, bind, ops_port, BROADCAST_TPS=str(SLOW_DEFAULT))
    log_path = tmp_path / "worker.log"
    worker = start_worker(env, log_path)
    try:
        base = f"http://127.0.0.1:{ops_port}"
        await poll(f"{base}/healthz", 200, limit=60)
        ready = json.loads(await poll(f"{base}/readyz", 200, limit=30))
        assert ready["checks"]["smpp"] == "ok" and ready["checks"]["store"] == "ok"

        # Every row goes out at the grant, not at GATEWAY_BROADCAST_TPS.
        for _ in range(600):
            counts = await store.outbox_counts(alert)
            # Rows exist only once the worker has expanded the alert: wait for them all.
            if counts.total == RECIPIENTS and counts.pending == 0:
                break
            await asyncio.sleep(0.1)
        assert counts.total == RECIPIENTS and counts.pending == 0, dict(counts.counts)
        submits = sorted(
            json.loads(line)["t"] / 1000
            for line in (tmp_path / "submits.jsonl").read_text().splitlines()
        )
        assert len(submits) == RECIPIENTS
        assert submits[-1] - submits[0] < RECIPIENTS / SLOW_DEFAULT / 4
        busiest = max(sum(1 for t in submits if start <= t < start + 1) for start in submits)
        assert busiest <= GRANT
        lines = [json.loads(line) for line in log_path.read_text().splitlines() if line[:1] == "{"]
        (opened,) = [line for line in lines if line.get("event") == "gateway.server.runtime"]
        assert opened["worker_tps"] == GRANT and opened["channel"] == "smpp"

        # A USSD session arriving on the worker's bind is answered by the real menu.
        first = await smsc.command(
            "ussd", source="254700000999", dest="*384#", ussd_op=1, session_info=0x1100,
            hex=encoding.encode_gsm7("*384#").hex(),
        )  # fmt: skip
        assert first["reply"] is not None and first["reply"]["op"] == 2  # the session goes on
        screen = encoding.decode(bytes.fromhex(first["reply"]["hex"]), first["reply"]["dc"])
        assert screen.startswith("Language")

        metrics = await poll(f"{base}/metrics", 200, limit=10)
        assert 'gateway_smpp_link_up{bind="0",smsc="sim"} 1.0' in metrics
        assert (
            'gateway_ussd_requests_total{channel="smpp",outcome="continue",'
            'service="safe-journey"} 1.0' in metrics
        )
        assert "gateway_smpp_submits_total" in metrics

        # SIGTERM: the worker unbinds (the SMSC sees it) and exits cleanly.
        worker.send_signal(signal.SIGTERM)
        for _ in range(300):
            if worker.poll() is not None:
                break
            await asyncio.sleep(0.1)
        assert worker.returncode == 0, log_path.read_text()[-2000:]
        assert (await smsc.stats())["unbinds"] >= 1
    finally:
        if worker.poll() is None:
            worker.kill()
            worker.wait()
        await store.close()
