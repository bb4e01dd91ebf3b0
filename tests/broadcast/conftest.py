from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.africastalking.sms_sender import AfricasTalkingSMS
from gateway.broadcast.alert_service import AlertService
from gateway.broadcast.inbox import SMSInbox
from gateway.broadcast.keyword_service import KeywordService
from gateway.broadcast.receipt_recorder import ReceiptRecorder
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import PROJECT_ROOT, Secret
from gateway.sms.keywords import load_catalog
from gateway.store.sql_store import SQLStore
from tests.at_double import MESSAGING_PATH, ATDouble
from tests.audit_support import seal_at

CALLBACK_SECRET = "callback-secret-0123456789"
HASH_KEY = "hash-key-" + "x" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()


async def eventually(check: Callable[[], bool], limit: float = 30.0) -> None:
    """Poll ``check`` until true; a bound on waiting, not a timed assertion."""
    for _ in range(int(limit / 0.01)):
        if check():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached")


def number(index: int) -> str:
    """Test numbers: +254 7000 then five digits; the privacy tests grep for them."""
    return f"+2547000{index:05d}"


@dataclass
class Harness:
    store: SQLStore
    double: ATDouble
    sender: AfricasTalkingSMS
    subscriptions: SubscriptionService
    keywords: KeywordService
    inbox: SMSInbox
    alerts: AlertService
    vault: NumberVault
    callback_base: str
    http: aiohttp.ClientSession
    db_path: Path

    async def seed(self, count: int, topic: str = "hotlines", language: str = "en") -> None:
        for index in range(count):
            await self.subscriptions.join(number(index), "africastalking", topic, language, 1.0)


@pytest.fixture
async def harness(tmp_path: Path, aiohttp_server: Callable[..., Any]) -> AsyncIterator[Harness]:
    db_path = tmp_path / "gateway.db"
    store: SQLStore = await SQLStore.open(db_path, seal_at(tmp_path))
    double = ATDouble()
    double_server = await aiohttp_server(double.app())
    http = aiohttp.ClientSession()
    sender = AfricasTalkingSMS(
        http,
        str(double_server.make_url(MESSAGING_PATH)),
        double.username,
        Secret(double.api_key),
        max_recipients=50,
    )
    hasher = PhoneHasher(Secret(HASH_KEY))
    vault = NumberVault(Secret(ENCRYPTION_KEY))
    subscriptions = SubscriptionService(store, hasher, vault)
    catalog = load_catalog(PROJECT_ROOT / "content")
    keywords = KeywordService(subscriptions, catalog)
    receipts = ReceiptRecorder(store)
    inbox = SMSInbox(store, subscriptions, keywords, receipts, sender)
    callbacks = web.Application()
    callbacks.add_routes(create_sms_routes(inbox, Secret(CALLBACK_SECRET)))
    callback_server = await aiohttp_server(callbacks)
    base = str(callback_server.make_url("/africastalking/sms"))
    double.dlr_url = f"{base}/delivery?key={CALLBACK_SECRET}"
    double.optout_url = f"{base}/optout?key={CALLBACK_SECRET}"
    alerts = AlertService(store, [topic.code for topic in catalog.topics])
    yield Harness(
        store, double, sender, subscriptions, keywords, inbox, alerts, vault, base, http, db_path
    )
    await inbox.drain()
    await double_server.close()
    await callback_server.close()
    await receipts.close()
    await http.close()
    await store.close()
