from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from gateway.store.migrations import MIGRATIONS
from gateway.store.port import StoreConflict, StoreError
from gateway.store.records import (
    Audience,
    DeliveryUpdate,
    NewBroadcast,
    OutboxState,
    Submission,
)
from gateway.store.sql_store import SQLStore
from tests.audit_support import seal_at

T0 = 1_700_000_000.0


async def _people(store: SQLStore, count: int, topic: str = "hotlines") -> list[int]:
    ids = []
    for index in range(count):
        person = await store.upsert_subscriber(f"h{index}", b"sealed", "en", "sms", T0)
        await store.subscribe(person.id, topic, "", "en", T0)
        ids.append(person.id)
    return ids


async def _broadcast(store: SQLStore, topics: tuple[str, ...] = ("hotlines",)) -> int:
    return await store.create_broadcast(
        NewBroadcast({"en": "hello"}, "en", Audience(topics), "UNHCR", "alice", T0 + 3600), T0
    )


async def test_migrations_apply_once_and_reopen(tmp_path: Path) -> None:
    first = await SQLStore.open(tmp_path / "db.sqlite")
    await first.close()
    second = await SQLStore.open(tmp_path / "db.sqlite")
    rows = await second.fetchall("SELECT version FROM schema_migrations")
    mode = await second.fetchone("PRAGMA journal_mode")
    await second.close()
    assert [row[0] for row in rows] == [migration.version for migration in MIGRATIONS]
    assert mode is not None and mode[0] == "wal"


async def test_rejoin_after_stop_gives_fresh_consent(store: SQLStore) -> None:
    person = await store.upsert_subscriber("abc", b"tok", "fr", "sms", T0)
    await store.subscribe(person.id, "hotlines", "", "fr", T0)
    assert await store.opt_out("abc", T0 + 5)
    assert not await store.opt_out("abc", T0 + 6)  # confirmed once
    stopped = await store.get_subscriber("abc")
    assert stopped is not None and stopped.opted_out_at == T0 + 5
    assert await store.subscriptions(person.id) == []
    sealed = await store.fetchone(
        "SELECT msisdn_sealed FROM subscribers WHERE id = ?", (person.id,)
    )
    assert sealed is not None and sealed[0] is None
    again = await store.upsert_subscriber("abc", b"tok2", "fr", "sms", T0 + 10)
    assert again.id == person.id and again.opted_out_at is None and again.consent_at == T0 + 10


async def test_expansion_is_batched_and_skips_other_topics_and_opted_out(
    store: SQLStore,
) -> None:
    ids = await _people(store, 7)
    await _people_other(store)
    await store.opt_out("h3", T0)
    broadcast_id = await _broadcast(store)
    assert await store.audience_size(Audience(("hotlines",))) == 6
    assert await store.expand_audience(broadcast_id, 4, T0) == 4
    assert await store.expand_audience(broadcast_id, 4, T0) == 2
    assert await store.expand_audience(broadcast_id, 4, T0) == 0
    broadcast = await store.get_broadcast(broadcast_id)
    assert broadcast is not None and broadcast.expansion_done
    rows = await store.fetchall("SELECT subscriber_id FROM outbox ORDER BY subscriber_id")
    assert [row[0] for row in rows] == [i for i in ids if i != ids[3]]


async def _people_other(store: SQLStore) -> None:
    person = await store.upsert_subscriber("other", b"sealed", "en", "sms", T0)
    await store.subscribe(person.id, "trafficking", "", "en", T0)


async def test_region_and_language_filters(store: SQLStore) -> None:
    a = await store.upsert_subscriber("a", b"s", "en", "sms", T0)
    b = await store.upsert_subscriber("b", b"s", "fr", "sms", T0)
    c = await store.upsert_subscriber("c", b"s", "en", "sms", T0)
    await store.subscribe(a.id, "t", "north", "en", T0)
    await store.subscribe(b.id, "t", "", "fr", T0)
    await store.subscribe(c.id, "t", "south", "en", T0)
    # Whose country is unknown is reached only when the operator says so.
    assert await store.audience_size(Audience(("t",), regions=("north",))) == 1
    assert await store.audience_size(Audience(("t",), regions=("north", ""))) == 2
    assert await store.audience_size(Audience(("t",), regions=("north",), languages=("en",))) == 1
    assert await store.audience_size(Audience(("t",), regions=("",), languages=("fr",))) == 1


async def test_claim_submit_and_receipts_reach_final_states(store: SQLStore) -> None:
    await _people(store, 4)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w1", 10, T0, 30)
    assert len(claimed) == 4 and all(c.msisdn_sealed == b"sealed" for c in claimed)
    assert await store.claim_outbox(broadcast_id, "w2", 10, T0, 30) == []  # leased
    first, second, third, fourth = (c.outbox_id for c in claimed)
    # A receipt can beat the recording of its submission: it is kept and applied later.
    await store.record_deliveries([DeliveryUpdate("at", "m1b", "delivered", at=T0 + 1)])
    await store.record_submissions(
        "at",
        [
            Submission(first, "accepted", ("m1a", "m1b")),
            Submission(second, "accepted", ("m2",)),
            Submission(third, "failed", error="InvalidPhoneNumber"),
            Submission(fourth, "retry", error="busy"),
        ],
        T0 + 1,
        max_attempts=3,
    )
    counts = await store.outbox_counts(broadcast_id)
    assert counts["submitted"] == 2 and counts["failed"] == 1 and counts["queued"] == 1
    matched = await store.record_deliveries(
        [
            DeliveryUpdate("at", "m1a", "delivered", at=T0 + 2),
            DeliveryUpdate("at", "m2", "failed", "DeliveryFailure", at=T0 + 2),
            DeliveryUpdate("at", "unknown", "delivered", at=T0 + 2),
        ]
    )
    assert matched == 2
    states = dict((row[0], row[1]) for row in await store.fetchall("SELECT id, state FROM outbox"))
    assert states[first] == "delivered" and states[second] == "failed"
    again = await store.claim_outbox(broadcast_id, "w1", 10, T0 + 2, 30)
    assert [c.outbox_id for c in again] == [fourth] and again[0].attempts == 2


async def test_expired_lease_is_reclaimed(store: SQLStore) -> None:
    await _people(store, 2)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    assert len(await store.claim_outbox(broadcast_id, "dead", 10, T0, 5)) == 2
    assert await store.claim_outbox(broadcast_id, "new", 10, T0 + 4, 5) == []
    assert len(await store.claim_outbox(broadcast_id, "new", 10, T0 + 6, 5)) == 2


async def test_blacklisted_at_submit_counts_as_stop(store: SQLStore) -> None:
    await _people(store, 2)
    broadcast_id = await _broadcast(store)
    second_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    await store.expand_audience(second_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 1, T0, 30)
    await store.record_submissions(
        "at", [Submission(claimed[0].outbox_id, "opted_out")], T0, max_attempts=3
    )
    person = await store.get_subscriber("h0")
    assert person is not None and person.opted_out_at == T0
    assert (await store.outbox_counts(second_id))["opted_out"] == 1


async def test_withdraw_opted_out_before_submit(store: SQLStore) -> None:
    await _people(store, 3)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
    await store.opt_out("h1", T0 + 1)
    withdrawn = await store.withdraw_opted_out([c.outbox_id for c in claimed], T0 + 1)
    assert withdrawn == {claimed[1].outbox_id}


async def test_inbound_dedup_on_channel_and_message_id(store: SQLStore) -> None:
    assert await store.record_inbound("at", "m1", "hash", "12345", "stop", T0)
    assert not await store.record_inbound("at", "m1", "hash", "12345", "stop", T0)
    assert await store.record_inbound("smpp:a", "m1", "hash", "12345", "stop", T0)


async def test_operators_menus_and_session_ends(store: SQLStore) -> None:
    await store.create_operator("alice", "$argon2id$x", "editor", T0)
    with pytest.raises(StoreConflict):
        await store.create_operator("alice", "$argon2id$y", "admin", T0)
    assert await store.update_operator("alice", T0, disabled=True)
    alice = await store.get_operator("alice")
    assert alice is not None and alice.disabled and alice.role == "editor"
    first = await store.create_menu_version("main", "a: 1", "alice", T0)
    second = await store.create_menu_version("main", "a: 2", "alice", T0 + 1)
    assert await store.publish_menu_version(first.id, "bob", T0 + 2)
    assert await store.publish_menu_version(second.id, "bob", T0 + 3)
    assert not await store.publish_menu_version(second.id, "bob", T0 + 4)
    published = await store.published_menu("main")
    old = await store.get_menu_version(first.id)
    assert published is not None and published.id == second.id
    assert old is not None and old.state == "superseded"
    await store.record_session_end("2026-11-24", "home", "Incomplete")
    await store.record_session_end("2026-11-24", "home", "Incomplete", 2)
    counts = await store.session_end_counts("2026-11-01")
    assert [(c.screen_id, c.count) for c in counts] == [("home", 3)]


async def test_audit_chain_verifies_and_detects_a_tampered_row(tmp_path: Path) -> None:
    # SQLite only (raw file access below); the PostgreSQL twin is in tests/prod.
    store = await SQLStore.open(tmp_path / "gateway.db", seal_at(tmp_path))
    for index in range(7):
        await store.append_audit("alice", "alert.approve", f"broadcast:{index}", {"n": index}, T0)
    assert (await store.verify_audit_chain()).ok
    with pytest.raises(StoreError, match="append-only"):
        async with store.transaction() as db:
            await db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    with pytest.raises(StoreError, match="readonly"):
        await store.fetchall("DELETE FROM audit_log")
    await store.close()
    raw = sqlite3.connect(tmp_path / "gateway.db")
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = 4")
    raw.commit()
    raw.close()
    reopened = await SQLStore.open(tmp_path / "gateway.db", seal_at(tmp_path))
    check = await reopened.verify_audit_chain()
    await reopened.close()
    assert not check.ok and check.broken_at == 4 and check.checked == 3


async def test_audit_chain_detects_a_deleted_row(tmp_path: Path) -> None:
    store = await SQLStore.open(tmp_path / "a.db", seal_at(tmp_path))
    for index in range(5):
        await store.append_audit("bob", "login", "operator:bob", {"i": index}, T0 + index)
    await store.close()
    raw = sqlite3.connect(tmp_path / "a.db")
    raw.execute("DROP TRIGGER audit_log_no_delete")
    raw.execute("DELETE FROM audit_log WHERE id = 2")
    raw.commit()
    raw.close()
    reopened = await SQLStore.open(tmp_path / "a.db", seal_at(tmp_path))
    check = await reopened.verify_audit_chain()
    await reopened.close()
    assert not check.ok and check.broken_at == 3


async def test_retention_deletes_old_rows_and_stale_opt_outs_only(store: SQLStore) -> None:
    await _people(store, 3)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
    await store.record_submissions(
        "at", [Submission(c.outbox_id, "accepted", (f"m{c.outbox_id}",)) for c in claimed], T0, 3
    )
    old, recent, pending = claimed
    await store.record_deliveries([DeliveryUpdate("at", f"m{old.outbox_id}", "delivered", at=T0)])
    await store.record_deliveries(
        [DeliveryUpdate("at", f"m{recent.outbox_id}", "delivered", at=T0 + 100 * 86400)]
    )
    await store.record_inbound("at", "old", "h", "1", "help", T0)
    await store.record_inbound("at", "new", "h", "1", "help", T0 + 100 * 86400)
    await store.opt_out("h0", T0)  # long ago: goes
    await store.opt_out("h1", T0 + 99 * 86400)  # recent: stays
    result = await store.purge(delivery_before=T0 + 50 * 86400, optout_before=T0 + 90 * 86400)
    assert result.subscribers == 1 and result.inbound_messages == 1
    remaining = {row[0]: row[1] for row in await store.fetchall("SELECT id, state FROM outbox")}
    assert remaining == {recent.outbox_id: "delivered", pending.outbox_id: "submitted"}
    assert await store.get_subscriber("h0") is None
    assert await store.get_subscriber("h1") is not None
    events = await store.fetchall("SELECT message_id FROM delivery_events")
    assert [row[0] for row in events] == [f"m{recent.outbox_id}"]
    assert (await store.verify_audit_chain()).ok


async def test_close_pending_expires_unfinished_rows(store: SQLStore) -> None:
    await _people(store, 3)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 1, T0, 30)
    await store.record_submissions(
        "at", [Submission(claimed[0].outbox_id, "accepted", ("x",))], T0, 3
    )
    assert await store.close_pending(broadcast_id, OutboxState.EXPIRED, T0, False) == 2
    assert await store.close_pending(broadcast_id, OutboxState.EXPIRED, T0, True) == 1
    assert (await store.outbox_counts(broadcast_id))["expired"] == 3


async def test_a_message_level_receipt_on_the_first_part_delivers_the_row(
    store: SQLStore,
) -> None:
    await _people(store, 1)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
    await store.record_submissions(
        "smpp", [Submission(claimed[0].outbox_id, "accepted", ("p0", "p1", "p2"))], T0, 3
    )
    await store.record_deliveries([DeliveryUpdate("smpp", "p1", "delivered", at=T0)])
    assert (await store.outbox_counts(broadcast_id))["submitted"] == 1
    await store.record_deliveries([DeliveryUpdate("smpp", "p0", "delivered", at=T0)])
    assert (await store.outbox_counts(broadcast_id))["delivered"] == 1


async def test_an_smsc_reusing_message_ids_after_a_restart_still_delivers_rows(
    store: SQLStore,
) -> None:
    await _people(store, 2)
    broadcast_id = await _broadcast(store)
    await store.expand_audience(broadcast_id, 100, T0)
    first, second = await store.claim_outbox(broadcast_id, "w", 10, T0, 30)
    await store.record_submissions("smpp", [Submission(first.outbox_id, "accepted", ("1",))], T0, 3)
    await store.record_deliveries([DeliveryUpdate("smpp", "1", "delivered", at=T0)])
    # The restarted SMSC hands out id "1" again; its receipt beats our record of it.
    await store.record_deliveries([DeliveryUpdate("smpp", "1", "delivered", at=T0 + 5)])
    await store.record_submissions(
        "smpp", [Submission(second.outbox_id, "accepted", ("1",))], T0 + 5, 3
    )
    assert (await store.outbox_counts(broadcast_id))["delivered"] == 2
