"""Everything the SMS side needs, built from settings in one place.

The HTTP server (through :func:`gateway.server.runtime.open_runtime`) and the broadcast
worker both call :func:`open_messaging`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from gateway.broadcast.alert_service import AlertService
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.menu_effects import StoreEffectHandler
from gateway.broadcast.receipt_recorder import ReceiptRecorder
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Settings
from gateway.sms.keywords import load_catalog
from gateway.sms.messages import SMSSender
from gateway.store.audit_anchor import audit_seal
from gateway.store.port import Store
from gateway.store.sql_store import open_store


@dataclass
class Messaging:
    settings: Settings
    store: Store
    hasher: PhoneHasher
    vault: NumberVault
    subscriptions: SubscriptionService
    keywords: KeywordService
    receipts: ReceiptRecorder
    inbox: SMSInbox
    effects: StoreEffectHandler
    alerts: AlertService

    def use_sender(self, sender: SMSSender) -> None:
        """Replies to keywords and "send me this by SMS" go out through ``sender``."""
        self.inbox.replies = sender
        self.effects.sender = sender


@asynccontextmanager
async def open_messaging(settings: Settings) -> AsyncIterator[Messaging]:
    # PostgreSQL for a postgresql:// URL; audit rows keyed and anchored
    store = await open_store(settings.db_url, audit=audit_seal(settings))
    try:
        hasher = PhoneHasher(settings.hash_key)
        vault = NumberVault(settings.encryption_key)
        catalog = load_catalog(settings.content)
        subscriptions = SubscriptionService(store, hasher, vault)
        keywords = KeywordService(subscriptions, catalog)
        receipts = ReceiptRecorder(store)
        inbox = SMSInbox(store, subscriptions, keywords, receipts, None)
        effects = StoreEffectHandler(subscriptions, None, settings.sms_prefix)
        alerts = AlertService(store, [topic.code for topic in catalog.topics])
        messaging = Messaging(
            settings, store, hasher, vault, subscriptions, keywords, receipts, inbox, effects,
            alerts,
        )  # fmt: skip
        try:
            yield messaging
        finally:
            await effects.drain()
            await inbox.drain()
            await receipts.close()
    finally:
        await store.close()
