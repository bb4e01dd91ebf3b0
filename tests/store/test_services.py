"""Several services in one store: subscriptions, STOP, alerts' audiences, drop-off
counts and operators' roles belong to a service ("" is the default), on both engines."""

from __future__ import annotations

import pytest

from gateway.store.port import StoreError
from gateway.store.records import Audience, NewBroadcast, OutboxState
from gateway.store.sql_store import SQLStore

T0 = 1_700_000_000.0
WORK = "work-rights"  # a second service's store key (its tree id)


async def _join(store: SQLStore, who: str, topic: str, service: str = "") -> int:
    person = await store.upsert_subscriber(who, b"sealed", "en", "sms", T0)
    await store.subscribe(person.id, topic, "", "en", T0, service)
    return person.id


async def _alert(store: SQLStore, topic: str, service: str = "") -> int:
    audience = Audience((topic,), service=service)
    return await store.create_broadcast(
        NewBroadcast({"en": "hello"}, "en", audience, "UNHCR", "alice", T0 + 3600), T0
    )


async def test_topics_subscribers_and_audiences_are_per_service(store: SQLStore) -> None:
    await _join(store, "h1", "alerts")
    await _join(store, "h2", "alerts", WORK)
    await _join(store, "h3", "alerts", WORK)
    person = await _join(store, "h1", "alerts", WORK)  # one person, both services

    assert await store.topic_counts() == {"alerts": 1}
    assert await store.topic_counts(WORK) == {"alerts": 3}
    assert await store.subscriber_counts() == {"": 1, WORK: 3}
    assert [s.service for s in await store.subscriptions(person)] == ["", WORK]
    assert await store.audience_size(Audience(("alerts",))) == 1
    assert await store.audience_size(Audience(("alerts",), service=WORK)) == 3

    default_alert, work_alert = await _alert(store, "alerts"), await _alert(store, "alerts", WORK)
    assert await store.expand_audience(default_alert, 10, T0) == 1
    assert await store.expand_audience(work_alert, 10, T0) == 3
    stored = await store.get_broadcast(work_alert)
    assert stored is not None and stored.audience.service == WORK
    assert [b.id for b in await store.list_broadcasts(service=WORK)] == [work_alert]
    assert [b.id for b in await store.list_broadcasts(service="")] == [default_alert]
    assert len(await store.list_broadcasts()) == 2


async def test_stop_on_one_service_stops_it_at_once_and_keeps_the_other(
    store: SQLStore,
) -> None:
    person = await _join(store, "h1", "alerts")
    await _join(store, "h1", "alerts", WORK)
    default_alert, work_alert = await _alert(store, "alerts"), await _alert(store, "alerts", WORK)
    await store.expand_audience(default_alert, 10, T0)
    await store.expand_audience(work_alert, 10, T0)

    assert await store.opt_out("h1", T0 + 1, service=WORK)
    assert not await store.opt_out("h1", T0 + 2, service=WORK)  # confirmed once
    assert [s.service for s in await store.subscriptions(person)] == [""]
    # the work-rights message queued for this person is withdrawn; the other stays
    assert (await store.outbox_counts(work_alert)).counts == {OutboxState.OPTED_OUT.value: 1}
    assert (await store.outbox_counts(default_alert)).counts == {OutboxState.QUEUED.value: 1}
    kept = await store.get_subscriber("h1")
    assert kept is not None and kept.opted_out_at is None  # still the default's subscriber
    sealed = await store.fetchone("SELECT msisdn_sealed FROM subscribers WHERE id = ?", (person,))
    assert sealed is not None and sealed[0] is not None

    # STOP on the last service: nothing left anywhere, so opted out and forgotten
    assert await store.opt_out("h1", T0 + 3, service="")
    gone = await store.get_subscriber("h1")
    assert gone is not None and gone.opted_out_at == T0 + 3
    sealed = await store.fetchone("SELECT msisdn_sealed FROM subscribers WHERE id = ?", (person,))
    assert sealed is not None and sealed[0] is None
    assert await store.subscriber_counts() == {}


async def test_stop_everywhere_ends_every_service(store: SQLStore) -> None:
    person = await _join(store, "h1", "alerts")
    await _join(store, "h1", "jobs", WORK)
    assert await store.opt_out("h1", T0 + 1)  # service None: everywhere
    assert await store.subscriptions(person) == []
    assert await store.subscriber_counts() == {}


async def test_drop_off_counts_are_per_service(store: SQLStore) -> None:
    await store.record_session_end("2026-11-24", "home", "Incomplete")
    await store.record_session_end("2026-11-24", "home", "Incomplete", 2, service=WORK)
    await store.record_session_end("2026-11-24", "home", "Incomplete", 3, service=WORK)
    default = await store.session_end_counts("2026-11-01")
    work = await store.session_end_counts("2026-11-01", WORK)
    assert [(c.screen_id, c.count, c.service) for c in default] == [("home", 1, "")]
    assert [(c.screen_id, c.count, c.service) for c in work] == [("home", 5, WORK)]


async def test_operator_roles_per_service_end_sessions_and_are_checked(
    store: SQLStore,
) -> None:
    await store.create_operator("carol", "argon2-hash", "none", T0)
    assert await store.service_roles("carol") == {}
    assert await store.set_service_role("carol", WORK, "approver")
    assert not await store.set_service_role("carol", WORK, "approver")  # no change
    assert await store.set_service_role("carol", "", "editor")
    assert await store.service_roles("carol") == {"": "editor", WORK: "approver"}
    assert await store.set_service_role("carol", "", None)
    assert await store.service_roles("carol") == {WORK: "approver"}
    with pytest.raises(StoreError):
        await store.set_service_role("carol", WORK, "admin")  # admins are global only
