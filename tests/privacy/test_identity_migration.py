"""Stored identities re-keyed over E.164, duplicates merged (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

from cryptography.fernet import Fernet

from gateway.privacy.identity_migration import IdentityNormaliser, normalise_identities
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Secret

T0 = 1_700_000_000.0
HASHER = PhoneHasher(Secret("h" * 40))
VAULT = NumberVault(Secret(Fernet.generate_key().decode()))


async def join(store: Any, written: str, topic: str) -> int:
    """A subscriber stored the old way: hashed and sealed as the channel wrote it."""
    person = await store.upsert_subscriber(HASHER.hash(written), VAULT.seal(written), "en", "x", T0)
    await store.subscribe(person.id, topic, "", "en", T0)
    return int(person.id)


async def test_old_forms_are_re_keyed_and_one_person_is_merged(store: Any) -> None:
    await join(store, "+254711000111", "route-alerts")  # already E.164: untouched
    await join(store, "0711000111", "trafficking")  # the same person over an SMSC
    await join(store, "+٢٥٤٧١١٠٠٠٢٢٢", "route-alerts")  # another person, Arabic-Indic digits
    await join(store, "not a number", "route-alerts")
    report = await normalise_identities(store, IdentityNormaliser(HASHER, VAULT, "KE"), batch=2)
    assert (report.seen, report.rehashed, report.merged, report.unreadable) == (4, 1, 1, 1)
    person = await store.get_subscriber(HASHER.hash("+254711000111"))
    assert person is not None
    topics = sorted(s.topic for s in await store.subscriptions(person.id))
    assert topics == ["route-alerts", "trafficking"]
    other = await store.get_subscriber(HASHER.hash("+254711000222"))
    assert other is not None and other.opted_out_at is None
    # One STOP, by the E.164 hash, now ends everything the person had.
    assert await store.opt_out(HASHER.hash("+254711000111"), T0 + 1)
    assert (await store.topic_counts()).get("trafficking", 0) == 0
    # A second run finds every number sealed and hashed as E.164 already.
    again = await normalise_identities(store, IdentityNormaliser(HASHER, VAULT, "KE"))
    assert (again.rehashed, again.merged, again.unreadable) == (0, 0, 1)


async def test_a_stop_wins_over_a_duplicate_still_subscribed(store: Any) -> None:
    await join(store, "+254711000111", "route-alerts")
    await store.opt_out(HASHER.hash("+254711000111"), T0 + 1)
    await join(store, "0711000111", "trafficking")
    report = await normalise_identities(store, IdentityNormaliser(HASHER, VAULT, "KE"))
    assert report.merged == 1
    assert sum((await store.topic_counts()).values()) == 0
