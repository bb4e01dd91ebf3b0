"""Key rotation: the pure re-keying of one row, then whole stores (SQLite and PostgreSQL)
and the ``gateway keys rotate`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from gateway.privacy.key_rotation import KeyRotation, RotationError, SubscriberKeys, rotate
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Secret
from gateway.store.sql_store import SQLStore

ROOT = Path(__file__).resolve().parents[2]
T0 = 1_700_000_000.0
OLD_FERNET, NEW_FERNET = (
    Secret(Fernet.generate_key().decode()),
    Secret(Fernet.generate_key().decode()),
)
OLD_HASH, NEW_HASH = Secret("o" * 40), Secret("n" * 40)
NUMBERS = [f"+2547000000{index:02d}" for index in range(23)]


def row(number: str, row_id: int = 1) -> SubscriberKeys:
    return SubscriberKeys(
        row_id, PhoneHasher(OLD_HASH).hash(number), NumberVault(OLD_FERNET).seal(number)
    )


def test_new_encryption_key_reseals_and_keeps_the_hash() -> None:
    old = row("+254700000001")
    change = KeyRotation(OLD_FERNET, OLD_HASH, new_encryption=NEW_FERNET).rekey(old)
    assert change is not None and change.msisdn_sealed is not None
    assert change.msisdn_hash == old.msisdn_hash
    assert NumberVault(NEW_FERNET).open(change.msisdn_sealed) == "+254700000001"
    with pytest.raises(ValueError):
        NumberVault(OLD_FERNET).open(change.msisdn_sealed)


def test_new_hash_key_rederives_the_hash_from_the_number() -> None:
    old = row("+254700000001")
    change = KeyRotation(OLD_FERNET, OLD_HASH, new_hash=NEW_HASH).rekey(old)
    assert change is not None
    assert change.msisdn_hash == PhoneHasher(NEW_HASH).hash("+254700000001")
    assert change.msisdn_sealed == old.msisdn_sealed


def test_a_rotated_row_needs_nothing_on_a_second_pass() -> None:
    rotation = KeyRotation(OLD_FERNET, OLD_HASH, NEW_FERNET, NEW_HASH)
    first = rotation.rekey(row("+254700000001"))
    assert first is not None
    again = SubscriberKeys(first.id, first.msisdn_hash, first.msisdn_sealed)
    assert rotation.rekey(again) is None


def test_an_opted_out_row_without_number_is_left_alone() -> None:
    rotation = KeyRotation(OLD_FERNET, OLD_HASH, NEW_FERNET, NEW_HASH)
    assert rotation.rekey(SubscriberKeys(1, "somehash", None)) is None


def test_a_number_sealed_under_an_unknown_key_stops_the_rotation() -> None:
    stranger = SubscriberKeys(7, "h", Fernet(Fernet.generate_key()).encrypt(b"+254700000009"))
    with pytest.raises(RotationError) as caught:
        KeyRotation(OLD_FERNET, OLD_HASH, NEW_FERNET).rekey(stranger)
    assert "+254" not in str(caught.value) and "7" in str(caught.value)


async def subscribe_everyone(store: Any) -> None:
    hasher, vault = PhoneHasher(OLD_HASH), NumberVault(OLD_FERNET)
    for number in NUMBERS:
        person = await store.upsert_subscriber(
            hasher.hash(number), vault.seal(number), "en", "sms", T0
        )
        await store.subscribe(person.id, "alerts", "", "en", T0)
    await store.opt_out(hasher.hash(NUMBERS[0]), T0 + 1)


async def test_rotating_both_keys_over_a_whole_store(store: Any) -> None:
    await subscribe_everyone(store)
    rotation = KeyRotation(OLD_FERNET, OLD_HASH, NEW_FERNET, NEW_HASH)
    report = await rotate(store, rotation, batch=5)
    assert (report.seen, report.without_number) == (23, 1)
    assert report.resealed == report.rehashed == 22
    new_hasher, new_vault = PhoneHasher(NEW_HASH), NumberVault(NEW_FERNET)
    for number in NUMBERS[1:]:
        person = await store.get_subscriber(new_hasher.hash(number))
        assert person is not None and await store.subscriptions(person.id)
        assert await store.get_subscriber(PhoneHasher(OLD_HASH).hash(number)) is None
    # the sender opens every number it claims with the new key only
    from gateway.store.records import Audience, NewBroadcast

    broadcast_id = await store.create_broadcast(
        NewBroadcast({"en": "x"}, "en", Audience(("alerts",)), "src", "a", T0 + 99), T0
    )
    await store.expand_audience(broadcast_id, 100, T0)
    claimed = await store.claim_outbox(broadcast_id, "w", 100, T0, 30)
    assert sorted(new_vault.open(c.msisdn_sealed) for c in claimed) == sorted(NUMBERS[1:])
    # a second run (after an interruption, say) changes nothing
    again = await rotate(store, rotation, batch=7)
    assert again.resealed == again.rehashed == 0 and again.seen == 23


def test_the_rotate_command_reports_counts_only(tmp_path: Path) -> None:
    import asyncio

    db = tmp_path / "gateway.db"

    async def prepare() -> None:
        store = await SQLStore.open(db)
        await subscribe_everyone(store)
        await store.close()

    asyncio.run(prepare())
    key_file = tmp_path / "new.key"
    key_file.write_text(NEW_FERNET.reveal() + "\n")
    key_file.chmod(0o600)
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_DB": str(db),
        "GATEWAY_ENCRYPTION_KEY": OLD_FERNET.reveal(),
        "GATEWAY_HASH_KEY": OLD_HASH.reveal(),
        "GATEWAY_LOG_FORMAT": "json",
    }
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "gateway",
            "keys",
            "rotate",
            "--new-encryption-key-file",
            str(key_file),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "subscribers: 23, re-sealed: 22, re-hashed: 0" in result.stdout
    everything = result.stdout + result.stderr
    assert "+2547" not in everything and NEW_FERNET.reveal() not in everything

    refused = subprocess.run(
        [sys.executable, "-m", "gateway", "keys", "rotate"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert refused.returncode == 2 and "nothing to rotate" in refused.stderr
