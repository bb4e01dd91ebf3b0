"""Joining and leaving: the one place that turns a caller into a subscriber.

Shared by the SMS keywords, the USSD effects and the aggregators' opt-out
notifications, so STOP means the same wherever it comes from. The number is hashed
for look-up and sealed (Fernet) for the sender; it is never stored or logged in clear.
"""

from __future__ import annotations

import structlog

from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.store.port import Store

log = structlog.get_logger(__name__)


class SubscriptionService:
    def __init__(self, store: Store, hasher: PhoneHasher, vault: NumberVault) -> None:
        self._store = store
        self._hasher = hasher
        self._vault = vault

    def hash(self, msisdn: str) -> str:
        return self._hasher.hash(msisdn)

    async def join(
        self,
        msisdn: str,
        channel: str,
        topic: str,
        language: str,
        now: float,
        region: str = "",
        service: str = "",
    ) -> bool:
        """Subscribe ``msisdn`` to ``service``'s ``topic``; True when the subscription is
        new."""
        subscriber = await self._store.upsert_subscriber(
            self._hasher.hash(msisdn), self._vault.seal(msisdn), language, channel, now
        )
        added = await self._store.subscribe(subscriber.id, topic, region, language, now, service)
        log.info("subscription.joined", topic=topic, language=language, new=added, service=service)
        return added

    async def stop(
        self, msisdn_hash: str, now: float, reason: str, service: str | None = None
    ) -> bool:
        """Opt out at once: of ``service`` (a store key), or of everything (None); True
        when this changed anything."""
        changed = await self._store.opt_out(msisdn_hash, now, service)
        log.info(
            "subscription.stopped",
            reason=reason,
            changed=changed,
            service="*" if service is None else service,
        )
        return changed

    async def leave_topic(self, msisdn_hash: str, topic: str, service: str = "") -> bool:
        subscriber = await self._store.get_subscriber(msisdn_hash)
        if subscriber is None:
            return False
        return await self._store.unsubscribe(subscriber.id, topic, service) > 0

    async def set_language(self, msisdn_hash: str, language: str, now: float) -> bool:
        return await self._store.set_language(msisdn_hash, language, now)

    async def language_of(self, msisdn_hash: str) -> str | None:
        subscriber = await self._store.get_subscriber(msisdn_hash)
        return None if subscriber is None else subscriber.language
