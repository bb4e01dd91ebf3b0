"""A row whose receipt never comes ends ``unknown``, per SMSC, on both engines."""

from __future__ import annotations

from typing import Any

from gateway.store.records import Audience, DeliveryUpdate, NewBroadcast, Submission

T0 = 1_700_000_000.0


async def test_unconfirmed_rows_end_unknown_after_their_smscs_timeout(store: Any) -> None:
    for index in range(4):
        person = await store.upsert_subscriber(f"h{index}", b"sealed", "en", "sms", T0)
        await store.subscribe(person.id, "hotlines", "", "en", T0)
    broadcast_id = await store.create_broadcast(
        NewBroadcast({"en": "hi"}, "en", Audience(("hotlines",)), "UNHCR", "alice", T0 + 3600), T0
    )
    await store.expand_audience(broadcast_id, 100, T0)
    a1, a2, b1, b2 = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
    await store.record_submissions(
        "smpp",
        [
            Submission(a1.outbox_id, "accepted", ("a/1",)),
            Submission(a2.outbox_id, "accepted", ("a/2", "a/3")),
            Submission(b1.outbox_id, "accepted", ("ab/1",)),  # "ab" is not "a"
        ],
        T0,
        3,
    )
    await store.record_submissions(
        "smpp", [Submission(b2.outbox_id, "accepted", ("a/9",))], T0 + 50, 3
    )
    await store.record_deliveries([DeliveryUpdate("smpp", "a/1", "delivered", at=T0 + 5)])
    # SMSC "a" waits 30 s for a receipt: a/2 (sent at T0) times out, a/9 (T0 + 50) not yet.
    assert await store.close_unconfirmed(broadcast_id, "a", T0 + 60 - 30, T0 + 60) == 1
    counts = (await store.outbox_counts(broadcast_id)).counts
    assert counts == {"delivered": 1, "unknown": 1, "submitted": 2}
    # A late receipt never turns "unknown" into something else.
    await store.record_deliveries([DeliveryUpdate("smpp", "a/2", "delivered", at=T0 + 70)])
    assert (await store.outbox_counts(broadcast_id))["unknown"] == 1
    # Scope "" covers every row.
    assert await store.close_unconfirmed(broadcast_id, "", T0 + 1000, T0 + 1000) == 2
    assert (await store.outbox_counts(broadcast_id)).counts == {"delivered": 1, "unknown": 3}
