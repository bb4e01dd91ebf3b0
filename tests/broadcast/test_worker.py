"""The sender worker against the AT double, with receipts posted back to the callbacks."""

from __future__ import annotations

import asyncio
import time

import pytest

from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.privacy.numbers import PhoneHasher
from gateway.settings import Secret
from tests.alert_support import ROAD_CLOSED_FR, sent_alert
from tests.broadcast.conftest import HASH_KEY, Harness, number
from tests.smpp.smsc_driver import eventually


def options(**changes: object) -> WorkerOptions:
    values: dict[str, object] = {
        "channel": "africastalking",
        "tps": 5000.0,
        "sms_prefix": "Info:",
        "batch_size": 20,
        "concurrency": 2,
        "expansion_batch": 37,
        "poll_interval": 0.05,
    }
    values.update(changes)
    return WorkerOptions(**values)  # type: ignore[arg-type]


def worker_for(harness: Harness, **changes: object) -> BroadcastWorker:
    """The real worker over ``harness``'s store and AT sender, its options changed."""
    return BroadcastWorker(harness.store, harness.sender, harness.vault, options(**changes))


async def approved_alert(harness: Harness, expires_in: float = 3600) -> int:
    return await sent_alert(harness.alerts, ROAD_CLOSED_FR, expires_in=expires_in)


async def wait_for_receipts(harness: Harness, alert: int) -> None:
    for _ in range(400):
        counts = await harness.store.outbox_counts(alert)
        if counts["submitted"] == 0 and counts.pending == 0:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"receipts still missing: {dict(counts.counts)}")


async def test_every_recipient_gets_one_message_in_their_language(harness: Harness) -> None:
    await harness.seed(120, language="en")
    for index in range(120, 150):
        await harness.subscriptions.join(number(index), "africastalking", "hotlines", "fr", 1.0)
    for index in range(150, 160):
        await harness.subscriptions.join(number(index), "africastalking", "hotlines", "so", 1.0)
    alert = await approved_alert(harness)
    worker = worker_for(harness)
    await asyncio.wait_for(worker.run(until_idle=True), 60)
    await wait_for_receipts(harness, alert)
    counts = await harness.store.outbox_counts(alert)
    assert counts["delivered"] == 160 and counts.total == 160
    assert set(harness.double.per_number.values()) == {1}
    assert harness.double.messages_to(number(5))[0].text == "Info: Road closed at the bridge"
    assert harness.double.messages_to(number(130))[0].text == "Info: Route fermée au pont"
    assert harness.double.messages_to(number(155))[0].text == "Info: Road closed at the bridge"
    assert (await harness.alerts.status(alert)).state == "done"


async def test_blacklisted_number_counts_as_stop(harness: Harness) -> None:
    await harness.seed(10)
    harness.double.blacklist.add(number(3))
    alert = await approved_alert(harness)
    worker = worker_for(harness)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    await wait_for_receipts(harness, alert)
    counts = await harness.store.outbox_counts(alert)
    assert counts["opted_out"] == 1 and counts["delivered"] == 9
    person = await harness.store.get_subscriber(PhoneHasher(Secret(HASH_KEY)).hash(number(3)))
    assert person is not None and person.opted_out_at is not None
    second = await approved_alert(harness)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert (await harness.store.outbox_counts(second)).total == 9


async def test_stop_mid_broadcast_means_no_later_message(harness: Harness) -> None:
    await harness.seed(300)
    alert = await approved_alert(harness)
    worker = worker_for(harness, tps=200.0, batch_size=10)
    task = asyncio.create_task(worker.run(until_idle=True))
    await eventually(lambda: harness.double.total >= 20, within=30, every=0.01)
    late = number(290)  # far behind in the queue
    stopped_at = time.time()
    reply = await harness.http.post(
        harness.callback_base + "?key=callback-secret-0123456789",
        data={"from": late, "to": "12345", "text": "STOP", "id": "mo-1", "date": "x"},
    )
    assert reply.status == 200
    await asyncio.wait_for(task, 60)
    await harness.inbox.drain()
    texts_after_stop = [m for m in harness.double.messages_to(late) if m.at >= stopped_at]
    assert [m.text for m in texts_after_stop] == [
        "You will get no more messages from us. Reply JOIN to start again."
    ]
    counts = await harness.store.outbox_counts(alert)
    assert counts["opted_out"] == 1 and counts.total == 300


async def test_claimed_row_of_someone_who_stopped_is_not_sent(harness: Harness) -> None:
    """The re-check right before submit catches a STOP between claim and send."""
    await harness.seed(3)
    alert = await approved_alert(harness)
    await harness.store.expand_audience(alert, 10, time.time())
    claimed = await harness.store.claim_outbox(alert, "w", 10, time.time(), 30)
    await harness.subscriptions.stop(harness.subscriptions.hash(number(1)), time.time(), "test")
    worker = worker_for(harness)
    broadcast = await harness.store.get_broadcast(alert)
    assert broadcast is not None
    await worker._submit(broadcast, claimed)
    assert harness.double.per_number[number(1)] == 0
    assert harness.double.per_number[number(0)] == 1


async def test_nothing_is_sent_after_expiry(harness: Harness) -> None:
    await harness.seed(200)
    alert = await approved_alert(harness, expires_in=1.0)
    worker = worker_for(harness, tps=60.0, batch_size=10)
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    broadcast = await harness.store.get_broadcast(alert)
    assert broadcast is not None
    late = [m for m in harness.double.received if m.at > broadcast.expires_at]
    assert late == []
    counts = await harness.store.outbox_counts(alert)
    assert counts["expired"] > 0 and counts.pending == 0
    assert broadcast.state == "done"


async def test_a_batch_that_expires_while_its_withdrawal_waits_is_not_sent(
    harness: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The withdrawal of opted-out rows is a write: it can wait behind another writer
    (up to the store's busy timeout) after the batch's expiry check. An alert that
    expired in that wait sends nothing; its rows end expired."""
    await harness.seed(20)
    alert = await approved_alert(harness)
    broadcast = await harness.store.get_broadcast(alert)
    assert broadcast is not None
    now = [time.time()]
    withdraw = harness.store.withdraw_opted_out

    async def withdraw_past_the_expiry(ids: list[int], at: float) -> set[int]:
        withdrawn = await withdraw(ids, at)
        now[0] = broadcast.expires_at + 1.0  # the write lock came after the expiry
        return withdrawn

    monkeypatch.setattr(harness.store, "withdraw_opted_out", withdraw_past_the_expiry)
    worker = BroadcastWorker(
        harness.store, harness.sender, harness.vault, options(), clock=lambda: now[0]
    )
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    assert harness.double.total == 0
    counts = await harness.store.outbox_counts(alert)
    assert counts["expired"] == 20 and counts.pending == 0


async def test_paused_alert_stops_and_resumes(harness: Harness) -> None:
    await harness.seed(100)
    alert = await approved_alert(harness)
    worker = worker_for(harness, tps=100.0, batch_size=10)
    task = asyncio.create_task(worker.run(until_idle=True))
    await eventually(lambda: harness.double.total >= 10, within=30, every=0.01)
    await harness.alerts.pause(alert, "bob", time.time())
    await asyncio.wait_for(task, 30)
    sent_while_paused = harness.double.total
    assert sent_while_paused < 100
    await harness.alerts.send(alert, "bob", time.time())
    await asyncio.wait_for(worker.run(until_idle=True), 30)
    await wait_for_receipts(harness, alert)
    assert harness.double.total == 100
    assert (await harness.store.outbox_counts(alert))["delivered"] == 100


async def test_temporary_channel_failure_is_retried(harness: Harness) -> None:
    await harness.seed(30)
    harness.double.fail_next_requests = 2
    alert = await approved_alert(harness)
    worker = worker_for(harness)
    await asyncio.wait_for(worker.run(until_idle=True), 60)
    await wait_for_receipts(harness, alert)
    assert (await harness.store.outbox_counts(alert))["delivered"] == 30
    assert set(harness.double.per_number.values()) == {1}


async def test_a_channel_outage_longer_than_the_attempt_limit_fails_nobody(
    harness: Harness,
) -> None:
    await harness.seed(30)
    harness.double.fail_next_requests = 12
    alert = await approved_alert(harness)
    worker = worker_for(
        harness, max_attempts=2, backoff_initial=0.01, backoff_max=0.05, concurrency=1
    )
    await asyncio.wait_for(worker.run(until_idle=True), 60)
    await wait_for_receipts(harness, alert)
    assert harness.double.fail_next_requests == 0
    assert (await harness.store.outbox_counts(alert))["delivered"] == 30


async def test_a_row_whose_receipt_never_comes_ends_unknown(harness: Harness) -> None:
    await harness.seed(10)
    harness.double.dlr_status = "Sent"  # never a final receipt
    alert = await approved_alert(harness)
    worker = worker_for(harness, receipt_timeouts=(("", 0.5),), receipt_sweep_interval=0.1)
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop=stop))
    try:
        for _ in range(200):
            counts = await harness.store.outbox_counts(alert)
            if counts["unknown"] == 10:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await running
    assert dict(counts.counts) == {"unknown": 10}  # neither delivered nor expired
    status = await harness.alerts.status(alert)
    assert status.state == "done" and status.counts["unknown"] == 10
