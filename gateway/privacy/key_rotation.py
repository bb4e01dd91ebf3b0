"""Rotating the phone-number keys: ``gateway keys rotate``.

Two keys protect subscribers' numbers (see :mod:`gateway.privacy.numbers`):

- the encryption key seals each number (Fernet). Rotation opens every sealed number
  with whichever of the old and new keys works (``MultiFernet``) and seals it again
  with the new key;
- the hash key makes each number's look-up hash (HMAC). A hash cannot be recomputed
  from a hash, but every subscriber's number is there, sealed, so the new hash is
  re-derived from the decrypted number.

Both run in one pass over the subscribers table, in batches by id, each batch in one
transaction. A run that stops half-way is simply run again: a row whose number already
opens with the new key is not re-sealed, and a row whose hash already equals the new
hash is not rewritten. Opted-out subscribers have no sealed number left, so their hashes
stay under the old key until the retention purge removes them (they receive nothing in
the meantime: no number, no subscription).

The new keys are read from files (not the command line, which ``ps`` shows), and no
number or key is ever printed or logged: the command reports counts only.
"""

from __future__ import annotations

import argparse
import asyncio
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import structlog
from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from gateway.errors import GatewayError
from gateway.privacy.identity_migration import add_normalise_command
from gateway.privacy.numbers import PhoneHasher
from gateway.settings import Secret, Settings, SettingsError
from gateway.store.database import Connection, Row
from gateway.store.people import rewrite_subscriber_keys
from gateway.store.sql_store import SQLStore

log = structlog.get_logger(__name__)

DEFAULT_BATCH = 500


class RotationError(GatewayError):
    """A sealed number opens with neither key: the configured key is not the old one."""


@dataclass(frozen=True)
class SubscriberKeys:
    id: int
    msisdn_hash: str
    msisdn_sealed: bytes | None


@dataclass(frozen=True)
class Rekeyed:
    id: int
    msisdn_hash: str
    msisdn_sealed: bytes | None


@dataclass
class RotationReport:
    seen: int = 0
    resealed: int = 0
    rehashed: int = 0
    without_number: int = 0


class KeyRotation:
    """The pure part: old keys and new keys in, one row's new values out."""

    def __init__(
        self,
        old_encryption: Secret,
        old_hash: Secret,
        new_encryption: Secret | None = None,
        new_hash: Secret | None = None,
    ) -> None:
        old_fernet = Fernet(old_encryption.reveal_bytes())
        self._new_fernet = Fernet(new_encryption.reveal_bytes()) if new_encryption else None
        keys = [self._new_fernet, old_fernet] if self._new_fernet else [old_fernet]
        self._either = MultiFernet(keys)
        self._new_hasher = PhoneHasher(new_hash) if new_hash else None

    def rekey(self, row: SubscriberKeys) -> Rekeyed | None:
        """The row's new hash and ciphertext, or None when it needs no change."""
        if row.msisdn_sealed is None:
            return None
        try:
            number = self._either.decrypt(row.msisdn_sealed).decode()
        except InvalidToken:
            raise RotationError(
                f"subscriber {row.id}: the sealed number opens with neither key"
            ) from None
        sealed = row.msisdn_sealed
        if self._new_fernet is not None and not self._opens_with_new(sealed):
            sealed = self._new_fernet.encrypt(number.encode())
        new_hash = self._new_hasher.hash(number) if self._new_hasher else row.msisdn_hash
        if sealed == row.msisdn_sealed and new_hash == row.msisdn_hash:
            return None
        return Rekeyed(row.id, new_hash, sealed)

    def _opens_with_new(self, token: bytes) -> bool:
        assert self._new_fernet is not None
        try:
            self._new_fernet.decrypt(token)
        except InvalidToken:
            return False
        return True


async def rotate(
    store: SQLStore, rotation: KeyRotation, batch: int = DEFAULT_BATCH
) -> RotationReport:
    """Walk the subscribers of ``store`` (SQLite or PostgreSQL) and rewrite what changed."""
    report = RotationReport()

    async def rewrite(db: Connection, page: list[Row]) -> int:
        changes = []
        for found in page:
            row = SubscriberKeys(found[0], found[1], _bytes(found[2]))
            report.seen += 1
            if row.msisdn_sealed is None:
                report.without_number += 1
            change = rotation.rekey(row)
            if change is None:
                continue
            report.resealed += change.msisdn_sealed != row.msisdn_sealed
            report.rehashed += change.msisdn_hash != row.msisdn_hash
            changes.append(change)
        await db.executemany(
            "UPDATE subscribers SET msisdn_hash = ?, msisdn_sealed = ? WHERE id = ?",
            [(c.msisdn_hash, c.msisdn_sealed, c.id) for c in changes],
        )
        return len(changes)

    async for after, changed in rewrite_subscriber_keys(store, "rotate keys", batch, rewrite):
        log.info("keys.rotated_batch", up_to_id=after, changed=changed)
    return report


def _bytes(value: object) -> bytes | None:
    return bytes(value) if isinstance(value, bytes | bytearray | memoryview) else None


# --- command line -------------------------------------------------------------------------


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    keys = subparsers.add_parser("keys", help="phone-number key maintenance")
    actions = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    rotate_parser = actions.add_parser(
        "rotate",
        help="re-seal numbers under a new encryption key and/or re-derive their hashes "
        "under a new hash key (the current keys come from the usual settings)",
    )
    rotate_parser.add_argument(
        "--new-encryption-key-file", type=Path, help="file holding the new Fernet key"
    )
    rotate_parser.add_argument(
        "--new-hash-key-file", type=Path, help="file holding the new hash key (32+ characters)"
    )
    rotate_parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per commit")
    rotate_parser.set_defaults(func=_rotate_command)
    add_normalise_command(actions)


def _read_key(path: Path | None, what: str) -> Secret | None:
    if path is None:
        return None
    try:
        value = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise SettingsError(f"cannot read the new {what} from {path}: {exc.strerror}") from exc
    if not value:
        raise SettingsError(f"{path} is empty")
    return Secret(value)


def build_rotation(settings: Settings, args: argparse.Namespace) -> KeyRotation:
    new_encryption = _read_key(args.new_encryption_key_file, "encryption key")
    new_hash = _read_key(args.new_hash_key_file, "hash key")
    if new_encryption is None and new_hash is None:
        raise SettingsError(
            "nothing to rotate: give --new-encryption-key-file and/or --new-hash-key-file"
        )
    if new_hash is not None and len(new_hash.reveal()) < 32:
        raise SettingsError("the new hash key must be at least 32 characters long")
    if new_encryption is not None:
        try:
            Fernet(new_encryption.reveal_bytes())
        except ValueError as exc:
            raise SettingsError("the new encryption key is not a Fernet key") from exc
    return KeyRotation(settings.encryption_key, settings.hash_key, new_encryption, new_hash)


def _rotate_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    rotation = build_rotation(settings, args)
    return asyncio.run(_rotate_with_store(settings, rotation, args.batch))


async def _rotate_with_store(settings: Settings, rotation: KeyRotation, batch: int) -> int:
    from gateway.cli.store_command import run_with_store
    from gateway.store.port import StoreError

    async def work(store: SQLStore) -> int:
        report = await rotate(store, rotation, batch)
        print(
            f"subscribers: {report.seen}, re-sealed: {report.resealed}, re-hashed: "
            f"{report.rehashed}, without a number (opted out): {report.without_number}. "
            "Now set the new key(s) in the settings and restart every worker."
        )
        return 0

    return await run_with_store(
        settings,
        work,
        (RotationError, StoreError),
        "key rotation stopped: {}; run it again once fixed",
    )
