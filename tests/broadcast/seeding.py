"""Bulk seeding of subscribers for the crash tests and the benchmarks.

Writes rows the way :class:`gateway.broadcast.subscriptions.SubscriptionService`
would (keyed hash, Fernet-sealed number), but in one transaction, because ten
thousand (or a million) one-by-one joins would dominate the test's running time.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from gateway.privacy.numbers import NumberVault, PhoneHasher


def seed_subscribers(
    db_path: Path,
    hasher: PhoneHasher,
    vault: NumberVault,
    numbers: list[str],
    topic: str = "hotlines",
    languages: tuple[str, ...] = ("en", "fr", "ar", "so"),
    now: float = 1.0,
    chunk: int = 20_000,
) -> None:
    connection = sqlite3.connect(db_path)
    try:
        start = connection.execute("SELECT coalesce(max(id), 0) FROM subscribers").fetchone()[0]
        for offset in range(0, len(numbers), chunk):
            part = numbers[offset : offset + chunk]
            rows = [
                (
                    start + offset + index + 1,
                    hasher.hash(msisdn),
                    vault.seal(msisdn),
                    languages[(offset + index) % len(languages)],
                    "africastalking",
                    now,
                    now,
                    now,
                )
                for index, msisdn in enumerate(part)
            ]
            connection.executemany(
                "INSERT INTO subscribers (id, msisdn_hash, msisdn_sealed, language, channel, "
                "consent_at, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
            connection.executemany(
                "INSERT INTO subscriptions (subscriber_id, topic, region, language, created_at) "
                "VALUES (?, ?, '', ?, ?)",
                [(row[0], topic, row[3], now) for row in rows],
            )
            connection.commit()
    finally:
        connection.close()
