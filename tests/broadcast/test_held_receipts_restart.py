"""Held receipts outlive a restart of the gateway process (node-smpp, real store).

The SMSC numbers its message ids in hex from 1 and writes receipts in decimal; the
gateway is not told (``auto``). With forty messages live, receipts such as ``16``
could be for hex ``10`` or for hex ``16``: they are held, not guessed. The worker
process is then killed (SIGKILL, no goodbye) before it has seen enough to learn the
format. A new process starts, brings the held receipts back from the store, learns
the format from a second broadcast, and every held receipt lands on its own row: a
third of the people are on the SMSC's "undeliverable" list, and each row must end as
the SMSC said for that person. The counts are read from /metrics.
"""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from gateway.broadcast.alert_service import AlertService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Secret
from gateway.store.sql_store import SQLStore
from tests.alert_support import sent_alert
from tests.audit_support import seal_at
from tests.broadcast.conftest import (
    ENCRYPTION_KEY,
    HASH_KEY,
    number,
    row_states,
    smpp_worker_env,
    start_worker,
)
from tests.broadcast.seeding import seed_subscribers
from tests.servers import free_port
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind

pytestmark = pytest.mark.slow

PER_BROADCAST = 40  # ids 1..0x28 live at once: 19 receipts cannot be told apart


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    simulator = await Simulator.start(lifetime=300)
    try:
        yield simulator
    finally:
        await simulator.stop()


async def scrape(url: str, limit: float = 60.0) -> str:
    deadline = time.monotonic() + limit
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as response:
                    if response.status == 200:
                        return await response.text()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} never answered within {limit} s")


def metric(text: str, name: str, **labels: str) -> float:
    wanted = ",".join(f'{key}="{value}"' for key, value in sorted(labels.items()))
    found = re.search(rf"^{name}\{{{re.escape(wanted)}\}} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def matching(text: str, outcome: str) -> float:
    return metric(text, "gateway_smpp_receipt_matching_total", smsc="sim", outcome=outcome)


async def test_held_receipts_survive_a_killed_worker_and_land_on_their_rows(
    tmp_path: Path, smsc: Simulator
) -> None:
    db_path = tmp_path / "gateway.db"
    store = await SQLStore.open(db_path, seal_at(tmp_path))
    hasher, vault = PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY))
    first_people = [number(i) for i in range(PER_BROADCAST)]
    second_people = [number(i) for i in range(PER_BROADCAST, 2 * PER_BROADCAST)]
    seed_subscribers(db_path, hasher, vault, first_people, topic="hotlines")
    seed_subscribers(db_path, hasher, vault, second_people, topic="shelter")
    undeliverable = {n for i, n in enumerate(first_people + second_people) if i % 3 == 0}
    await smsc.configure(
        dlr=True,
        record_bodies=False,
        id_base="hex",
        id_start=1,
        dlr_id_format="decimal",
        dlr_tlv=False,  # the id only in the text, in decimal
        dlr_delay_ms=1500,  # every message of a broadcast is live when receipts come
        undeliv_dests=sorted(n.removeprefix("+") for n in undeliverable),
    )
    ops_port = free_port()
    bind = smsc_bind(smsc.port, tps=400, source_addr="Info")
    env = smpp_worker_env(tmp_path, db_path, bind, ops_port)
    metrics_url = f"http://127.0.0.1:{ops_port}/metrics"
    workers: list[subprocess.Popen[bytes]] = []

    def start(log_name: str) -> subprocess.Popen[bytes]:
        worker = start_worker(env, tmp_path / log_name)
        workers.append(worker)
        return worker

    try:
        first = await sent_alert(AlertService(store), topics=("hotlines",))
        worker = start("first.log")
        await eventually(
            lambda: _acked(smsc, PER_BROADCAST), within=90, every=0.2
        )  # every receipt acknowledged: held ones are in the store by now
        before = await scrape(metrics_url)
        held_before = metric(before, "gateway_smpp_receipts_held", smsc="sim")
        assert held_before > 0
        assert matching(before, "ambiguous") >= held_before
        assert (await store.held_receipt_counts()) == {"sim": int(held_before)}
        waiting = sum(
            1 for s in row_states(db_path, hasher, first, first_people).values() if s == "submitted"
        )
        assert waiting == held_before  # fmt: skip

        worker.send_signal(signal.SIGKILL)  # no goodbye: only the store remembers
        worker.wait()

        second = await sent_alert(AlertService(store), topics=("shelter",))
        start("second.log")
        await eventually(lambda: _acked(smsc, 2 * PER_BROADCAST), within=90, every=0.2)
        for _ in range(100):
            after = await scrape(metrics_url)
            if metric(after, "gateway_smpp_receipts_held", smsc="sim") == 0:
                break
            await asyncio.sleep(0.2)
        first_states = row_states(db_path, hasher, first, first_people)
        second_states = row_states(db_path, hasher, second, second_people)
        kept = await store.receipt_matching("sim")
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
                worker.wait()
        await store.close()
    said = {n: ("failed" if n in undeliverable else "delivered") for n in first_people}
    assert first_states == said  # each held receipt on its own row, as the SMSC said
    said = {n: ("failed" if n in undeliverable else "delivered") for n in second_people}
    assert second_states == said
    assert kept.held == () and kept.receipt_id == "hex-to-dec"
    assert matching(after, "restored") == held_before
    assert matching(after, "resolved") >= held_before
    assert metric(after, "gateway_smpp_receipts_held", smsc="sim") == 0


async def _acked(smsc: Simulator, count: int) -> bool:
    return int((await smsc.stats())["dlrs_acked"]) >= count
