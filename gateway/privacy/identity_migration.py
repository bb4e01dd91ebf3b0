"""Re-keying stored identities over E.164: ``gateway keys normalise``.

Keyed hashes are taken over E.164 (:mod:`gateway.privacy.phone_numbers`). Hashes made
before that rule over an international number (``+254...``) are unchanged by it; a
subscriber who joined with another form (``0711...`` over an SMSC, Arabic-Indic
digits) has a hash nobody will look up again. Every subscriber's number is stored
sealed, so this pass opens it, parses it to E.164 (national forms in
``--default-country``), and rewrites the hash (and the sealed number, as E.164).

Two rows that turn out to be one person are merged: the row already keyed by the
E.164 hash keeps the person; the other's topics move to it, unless that row is
opted out (a STOP wins: the other row is opted out too); the other row is then
opted out, so nothing is sent to the person twice. A run that stops half-way is run
again: a row already in E.164 is not rewritten. Counts only are printed; no number.
It runs at any time, with the gateway up; run it once after upgrading.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from dataclasses import dataclass
from typing import Any

import structlog

from gateway.privacy.numbers import DecryptionError, NumberVault, PhoneHasher
from gateway.privacy.phone_numbers import to_e164
from gateway.settings import Settings
from gateway.store.database import Connection, Row
from gateway.store.people import opt_out_subscribers, rewrite_subscriber_keys
from gateway.store.sql_store import SQLStore

log = structlog.get_logger(__name__)

DEFAULT_BATCH = 500


@dataclass
class NormaliseReport:
    seen: int = 0
    rehashed: int = 0
    merged: int = 0
    unreadable: int = 0


@dataclass(frozen=True)
class Normalised:
    """A row's identity over E.164; None from :meth:`IdentityNormaliser.normalise`
    when the row is already so keyed or its number cannot be read."""

    msisdn_hash: str
    msisdn_sealed: bytes


class IdentityNormaliser:
    """The pure part: keys and a country in, one row's new values out."""

    def __init__(self, hasher: PhoneHasher, vault: NumberVault, default_country: str) -> None:
        self._hasher = hasher
        self._vault = vault
        self._country = default_country

    def normalise(self, msisdn_hash: str, sealed: bytes) -> Normalised | bool | None:
        """New values, None when nothing changes, False when the number is unreadable."""
        try:
            number = self._vault.open(sealed)
        except DecryptionError:
            return False
        e164 = to_e164(number, self._country)
        if e164 is None:
            return False
        new_hash = self._hasher.hash(e164)
        if new_hash == msisdn_hash and number == e164:
            return None
        return Normalised(new_hash, sealed if number == e164 else self._vault.seal(e164))


# One statement for both engines (SQLite 3.24+ and PostgreSQL read ON CONFLICT alike).
_MOVE_TOPICS = (
    "INSERT INTO subscriptions (subscriber_id, service, topic, region, language, created_at) "
    "SELECT ?, service, topic, region, language, created_at FROM subscriptions "
    "WHERE subscriber_id = ? ON CONFLICT DO NOTHING"
)


async def normalise_identities(
    store: SQLStore, normaliser: IdentityNormaliser, batch: int = DEFAULT_BATCH
) -> NormaliseReport:
    """Walk the subscribers of ``store`` (SQLite or PostgreSQL), one batch per commit."""
    report = NormaliseReport()

    async def rewrite(db: Connection, page: list[Row]) -> None:
        for row in page:
            if row[2] is None:
                continue  # opted out: no number left, nothing will be sent
            report.seen += 1
            change = normaliser.normalise(str(row[1]), bytes(row[2]))
            if change is False:
                report.unreadable += 1
            elif isinstance(change, Normalised):
                merged = await _apply(db, int(row[0]), change)
                report.merged += merged
                report.rehashed += not merged

    async for after, _ in rewrite_subscriber_keys(store, "normalise identities", batch, rewrite):
        log.info("identities.normalised_batch", up_to_id=after)
    return report


async def _apply(db: Connection, row_id: int, change: Normalised) -> bool:
    """Rewrite one row; True when it merged into the row already keyed by E.164."""
    keeper = await db.fetchrow(
        "SELECT id, msisdn_sealed FROM subscribers WHERE msisdn_hash = ? AND id <> ?",
        change.msisdn_hash,
        row_id,
    )
    if keeper is None:
        await db.execute(
            "UPDATE subscribers SET msisdn_hash = ?, msisdn_sealed = ? WHERE id = ?",
            change.msisdn_hash,
            change.msisdn_sealed,
            row_id,
        )
        return False
    if keeper[1] is not None:  # the person is subscribed there: bring the topics over
        await db.execute(_MOVE_TOPICS, int(keeper[0]), row_id)
    # A keeper without a number sent STOP: a STOP wins, the duplicate stops too.
    await opt_out_subscribers(db, [row_id], time.time())
    return True


def add_normalise_command(actions: argparse._SubParsersAction[Any]) -> None:
    parser = actions.add_parser(
        "normalise",
        help="re-key stored subscribers over E.164 (once after upgrading; merges duplicates)",
    )
    parser.add_argument(
        "--default-country",
        default="",
        help="ISO 3166 alpha-2 for numbers stored in national form (e.g. KE)",
    )
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH, help="rows per commit")
    parser.set_defaults(func=_normalise_command)


def _normalise_command(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    normaliser = IdentityNormaliser(
        PhoneHasher(settings.hash_key),
        NumberVault(settings.encryption_key),
        args.default_country.strip().upper(),
    )
    return asyncio.run(_normalise_with_store(settings, normaliser, args.batch))


async def _normalise_with_store(
    settings: Settings, normaliser: IdentityNormaliser, batch: int
) -> int:
    from gateway.cli.store_command import run_with_store
    from gateway.store.port import StoreError

    async def work(store: SQLStore) -> int:
        report = await normalise_identities(store, normaliser, batch)
        print(
            f"subscribers with a number: {report.seen}, re-keyed: {report.rehashed}, "
            f"merged into the same person: {report.merged}, unreadable (left as they were): "
            f"{report.unreadable}"
        )
        return 0

    return await run_with_store(
        settings, work, (StoreError,), "stopped: {}; run it again once fixed"
    )
