"""Scale-out: two ``gateway broadcast run`` processes, one PostgreSQL, one Redis, one grant.

Two real worker processes share one PostgreSQL store (they split the outbox through
leased claims) and one Redis (every SMPP bind of both draws on one token bucket for the
operator's ``shared_tps`` grant). They send one 10,000-recipient alert into the node-smpp
SMSC simulator, which answers every submit with a delivery receipt; one worker is killed
with SIGKILL about a third of the way through and the other finishes alone.

Everything timing-related is measured by the SMSC on its own clock (``submit_times``):
the operator's view, not the workers'.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest
from cryptography.fernet import Fernet

from gateway.broadcast.alert_service import AlertService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import PROJECT_ROOT, Secret
from gateway.sms.keywords import load_catalog
from gateway.store.sql_store import SQLStore, open_store
from tests.alert_support import sent_alert
from tests.audit_support import AUDIT_KEY, seal_at
from tests.pg_support import postgres_database
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind
from tests.smpp.test_shared_budget_live import busiest_second

pytestmark = pytest.mark.slow

RECIPIENTS = 10_000
HASH_KEY = "split-hash-key-" + "k" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()
TEXT = "Road closed at the bridge"  # GSM-7, one segment with the prefix: one submit each

# The operator's grant for the account, shared by both workers through Redis. Each bind
# alone may send 20 times more, and each worker's own pacing (--tps) as much again: only
# the shared budget can hold the total to the grant. At 1,000/s the 10,000 submits take
# about ten seconds, so the budget binds through the whole broadcast.
GRANT = 1000
BIND_TPS = 20_000.0
WORKER_TPS = 20_000.0
BINDS_PER_WORKER = 2

# A worker claims at most BATCH rows at a time and has at most CONCURRENCY claimed
# batches in flight (gateway/broadcast/worker.py: WorkerOptions.batch_size and
# .concurrency; _fan_out waits while CONCURRENCY batches are out before it claims
# again). A row is recorded as submitted right after its batch's send returns, so when
# the worker dies, at most BATCH * CONCURRENCY of its rows can have reached the SMSC
# without the store knowing. Only those are submitted again, by the survivor, once their
# lease runs out; the survivor itself loses no lease (LEASE is far longer than one of its
# batches takes at the grant), so no other row is sent twice.
BATCH = 100
CONCURRENCY = 4
IN_FLIGHT_BOUND = BATCH * CONCURRENCY
LEASE = 5.0


def number(index: int) -> str:
    return f"+2547100{index:05d}"


async def seed(url: str, hasher: PhoneHasher, vault: NumberVault, numbers: list[str]) -> None:
    """Subscribers and their subscriptions in the shape the PostgreSQL store writes them
    (gateway/store/people.py), in one COPY each: 10,000 one-by-one joins would
    dominate the test's running time."""
    now = time.time()
    languages = ("en", "fr")
    rows = [
        (hasher.hash(msisdn), vault.seal(msisdn), languages[index % 2], "smpp", now, now, now)
        for index, msisdn in enumerate(numbers)
    ]
    connection = await asyncpg.connect(url)
    try:
        async with connection.transaction():
            await connection.copy_records_to_table(
                "subscribers",
                records=rows,
                columns=[
                    "msisdn_hash", "msisdn_sealed", "language", "channel",
                    "consent_at", "created_at", "updated_at",
                ],
            )  # fmt: skip
            await connection.execute(
                "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
                "SELECT id, 'hotlines', '', language, $1 FROM subscribers",
                now,
            )
    finally:
        await connection.close()


async def sending_alert(store: SQLStore) -> int:
    catalog = load_catalog(PROJECT_ROOT / "content")
    alerts = AlertService(store, [topic.code for topic in catalog.topics])
    return await sent_alert(alerts, {"en": TEXT, "fr": "Route fermee au pont"})


def worker_env(tmp: Path, db_url: str, redis_url: str, smsc_port: int) -> dict[str, str]:
    smsc = smsc_bind(
        smsc_port, source_addr="InfoLine", binds=BINDS_PER_WORKER, tps=BIND_TPS, shared_tps=GRANT
    )
    return {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(tmp),
        "GATEWAY_DB": db_url,
        "GATEWAY_REDIS_URL": redis_url,
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_AUDIT_KEY": AUDIT_KEY.decode(),
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": "split-callback-secret-0123456789",
        "GATEWAY_SMS_CHANNEL": "smpp",
        "GATEWAY_SMSC": json.dumps([smsc]),
        "GATEWAY_SMS_PREFIX": "Info:",
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_WORKER_PORT": "0",  # two workers on one host: no ops port needed here
    }


def start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    # No --until-idle: like a deployed worker, it keeps its binds (and so takes the
    # receipts still owed) after the last submit; the test stops it at the end.
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable, "-m", "gateway", "broadcast", "run",
                "--lease", str(LEASE), "--batch-size", str(BATCH),
                "--concurrency", str(CONCURRENCY), "--tps", str(WORKER_TPS),
            ],
            cwd=PROJECT_ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip


@pytest.fixture
async def pg_store(tmp_path: Path) -> AsyncIterator[tuple[str, SQLStore]]:
    async with postgres_database() as url:
        store: SQLStore = await open_store(url, audit=seal_at(tmp_path))
        try:
            yield url, store
        finally:
            await store.close()


async def test_two_workers_one_killed_share_the_outbox_and_the_grant(
    pg_store: tuple[str, SQLStore], redis_url: str, tmp_path: Path
) -> None:
    db_url, store = pg_store
    numbers = [number(index) for index in range(RECIPIENTS)]
    await seed(db_url, PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY)), numbers)
    alert = await sending_alert(store)

    smsc = await Simulator.start(lifetime=300)
    workers: list[subprocess.Popen[bytes]] = []
    try:
        # A receipt the killed worker never acknowledged goes to the survivor, as a
        # production SMSC retries an unacknowledged deliver_sm on the account's other binds.
        await smsc.configure(dlr=True, redeliver_receipts=True)
        env = worker_env(tmp_path, db_url, redis_url, smsc.port)
        workers = [start_worker(env, tmp_path / f"worker-{n}.log") for n in range(2)]

        async def a_third_submitted() -> bool:
            counts = await store.outbox_counts(alert)
            return counts["submitted"] + counts["delivered"] >= RECIPIENTS // 3

        await eventually(a_third_submitted, 240, 0.1, "a third of the rows submitted")
        os.kill(workers[0].pid, signal.SIGKILL)
        assert await asyncio.to_thread(workers[0].wait, 10) == -signal.SIGKILL
        killed_at = (await smsc.stats())["submits"]
        assert killed_at < RECIPIENTS  # killed mid-broadcast

        async def all_final() -> bool:
            return dict((await store.outbox_counts(alert)).counts) == {"delivered": RECIPIENTS}

        try:
            await eventually(all_final, 240, 0.1, "every row delivered")
        except AssertionError as exc:
            counts = dict((await store.outbox_counts(alert)).counts)
            raise AssertionError(f"{exc}; outbox {counts}") from None
        assert workers[1].poll() is None  # the survivor finished the job and is still up

        times = (await smsc.command("submit_times"))["times"]
        messages = await smsc.messages()
        binds = (await smsc.stats())["binds"]
    finally:
        for worker in workers:
            if worker.poll() is None:
                worker.kill()
            await asyncio.to_thread(worker.wait, 10)
        await smsc.stop()

    assert binds >= 2 * BINDS_PER_WORKER  # both workers were bound and sending
    # 1. Every row is final: delivered, by a receipt the SMSC sent (checked above).
    # 2. Everyone got it at least once; the duplicates are only the dead worker's rows
    #    in flight (IN_FLIGHT_BOUND, see above).
    per_recipient = Counter(message["dest"].lstrip("+") for message in messages)
    assert set(per_recipient) == {n.lstrip("+") for n in numbers}
    assert len(times) == len(messages)  # one submit per message: single segments
    duplicates = len(times) - RECIPIENTS
    assert 0 <= duplicates <= IN_FLIGHT_BOUND, duplicates
    assert max(per_recipient.values()) <= 2
    # 3. Both workers together, killed one included, never beat the grant in any 1-second
    #    window at the SMSC.
    busiest = busiest_second(times)
    print(
        f"submits={len(times)} duplicates={duplicates} busiest_second={busiest} "
        f"span_s={(max(times) - min(times)) / 1000:.1f} killed_after={killed_at}"
    )
    assert busiest <= GRANT
