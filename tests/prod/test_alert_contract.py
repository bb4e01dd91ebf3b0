"""The shipped alert rules are a contract with the code: every series a rule selects is
emitted by the running gateway, with the label values the rule asks for.

One test boots the real app (``create_app``: a real Redis, the node-smpp SMSC, an SQLite
store), causes each fault the rules watch for (submits refused and throttled, a dropped
session, Redis down, the SMSC down, a store error) and scrapes the real ``/metrics``.
Each rule expression in ``deploy/prometheus/alerts.yml`` is parsed, and every gateway
selector in it must match at least one scraped sample.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.fernet import Fernet
from prometheus_client.parser import text_string_to_metric_families

from gateway.broadcast.alert_service import AlertService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.server.app import create_app
from gateway.settings import PROJECT_ROOT, Secret, Settings
from gateway.store.sql_store import SQLStore
from tests.alert_support import sent_alert
from tests.audit_support import AUDIT_KEY, seal_at
from tests.broadcast.seeding import seed_subscribers
from tests.servers import RedisServer
from tests.smpp.smsc_driver import Simulator, eventually, smsc_settings

pytestmark = pytest.mark.slow

RULES = PROJECT_ROOT / "deploy" / "prometheus" / "alerts.yml"
SECRET = "contract-callback-secret-0123"
HASH_KEY = "contract-hash-key-" + "h" * 32
ENCRYPTION_KEY = Fernet.generate_key().decode()
SELECTOR = re.compile(r"\b(gateway_[a-zA-Z0-9_]+)\s*(?:\{([^}]*)\})?")
MATCHER = re.compile(r'(\w+)\s*(=~|!~|!=|=)\s*"([^"]*)"')

Sample = tuple[str, dict[str, str], float]


def selectors(expression: str) -> list[tuple[str, list[tuple[str, str, str]]]]:
    """Every ``gateway_*{label op "value", ...}`` selector in a PromQL expression."""
    return [
        (name, MATCHER.findall(matchers or "")) for name, matchers in SELECTOR.findall(expression)
    ]


def matches(sample: Sample, name: str, matchers: list[tuple[str, str, str]]) -> bool:
    if sample[0] != name:
        return False
    for label, op, value in matchers:
        actual = sample[1].get(label, "")
        if op == "=" and actual != value:
            return False
        if op == "!=" and actual == value:
            return False
        if op == "=~" and not re.fullmatch(value, actual):
            return False
        if op == "!~" and re.fullmatch(value, actual):
            return False
    return True


def test_the_selector_parser_reads_every_matcher_kind() -> None:
    found = selectors('sum(rate(gateway_x_total{a="1", b!="2",c=~"d.*"}[5m])) / gateway_y')
    assert found == [
        ("gateway_x_total", [("a", "=", "1"), ("b", "!=", "2"), ("c", "=~", "d.*")]),
        ("gateway_y", []),
    ]
    assert matches(("gateway_x_total", {"a": "1", "b": "3", "c": "dd"}, 1.0), *found[0])
    assert not matches(("gateway_x_total", {"a": "1", "b": "2", "c": "dd"}, 1.0), *found[0])


async def scrape(client: Any) -> list[Sample]:
    response = await client.get("/metrics")
    assert response.status == 200
    text = await response.text()
    return [
        (sample.name, dict(sample.labels), sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def _drop_outbox(db_path: Path) -> None:
    with contextlib.closing(sqlite3.connect(db_path, timeout=60)) as damage:  # waits out a writer
        damage.execute("DROP TABLE outbox")


def value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(s[2] for s in samples if s[0] == name and labels.items() <= s[1].items())


async def test_every_alert_rule_selects_series_the_running_gateway_emits(
    tmp_path: Path, aiohttp_client: Any
) -> None:
    redis_server = RedisServer(tmp_path)
    redis_server.start()
    smsc = await Simulator.start(lifetime=300)
    # Every 3rd submit refused for good, every 5th throttled: both rules need data.
    await smsc.configure(final_every=3, throttle_every=5)
    db_path = tmp_path / "gateway.db"
    store = await SQLStore.open(db_path, seal_at(tmp_path))
    hasher, vault = PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY))
    seed_subscribers(db_path, hasher, vault, [f"+2547001{i:05d}" for i in range(400)])
    await sent_alert(AlertService(store))
    await store.close()
    settings = Settings(
        data_dir=tmp_path,
        redis_url=redis_server.url,
        sms_channel="smpp",
        smsc=(smsc_settings(smsc.port, tps=40.0),),
        callback_secret=Secret(SECRET),
        hash_key=Secret(HASH_KEY),
        audit_key=Secret(AUDIT_KEY.decode()),
        encryption_key=Secret(ENCRYPTION_KEY),
    )
    client = await aiohttp_client(await create_app(settings, console=False))
    headers = {"X-Callback-Key": SECRET}
    form = {"serviceCode": "*384#", "phoneNumber": "+254700000123", "networkCode": "63902"}
    try:
        # Submits answered: accepted, refused, throttled.
        async def refused_and_throttled() -> bool:
            found = await scrape(client)
            refused = [
                s for s in found
                if s[0] == "gateway_smpp_submit_responses_total" and s[1]["status"] != "ESME_ROK"
            ]  # fmt: skip
            throttled = value(found, "gateway_smpp_throttles_total", source="smsc")
            return bool(refused) and throttled > 0

        await eventually(
            refused_and_throttled, 60, 0.2, "refused and throttled submits in /metrics"
        )

        # A USSD session, then the aggregator's word that it dropped.
        answer = await client.post(
            "/africastalking/ussd", data={**form, "sessionId": "c1", "text": ""}, headers=headers
        )
        assert (await answer.text()).startswith("CON ")
        ended = await client.post(
            "/africastalking/ussd/end",
            data={"sessionId": "c1", "status": "Incomplete", "durationInMillis": "4000"},
            headers=headers,
        )
        assert ended.status == 200

        # The SMSC goes away mid-broadcast: the link goes down, rows stay pending.
        await smsc.kill()

        async def link_down() -> bool:
            found = await scrape(client)
            return value(found, "gateway_smpp_link_up") == 0 and bool(
                value(found, "gateway_broadcast_messages", state="pending")
            )

        await eventually(link_down, 30, 0.2, "the link down and rows pending in /metrics")

        # Redis goes away: the caller gets the polite busy screen, counted as an error.
        redis_server.stop()
        busy = await client.post(
            "/africastalking/ussd", data={**form, "sessionId": "c2", "text": ""}, headers=headers
        )
        assert (await busy.text()).startswith("END ")

        # A store error: the schema damaged under the running gateway. Off the event
        # loop: the gateway's broadcast worker, still retrying the pending rows, runs on
        # this loop, and a write transaction of its (BEGIN IMMEDIATE held across awaits)
        # can only finish there; a write blocking the loop would wait for it until the
        # timeout ('database is locked').
        await asyncio.to_thread(_drop_outbox, db_path)
        found = await scrape(client)
    finally:
        redis_server.stop()
        await smsc.stop()

    assert value(found, "gateway_ussd_requests_total", outcome="error") >= 1
    assert value(found, "gateway_redis_errors_total", operation="session") >= 1
    assert value(found, "gateway_ready", check="redis") == 0
    assert value(found, "gateway_db_errors_total") >= 1
    assert value(found, "gateway_ussd_sessions_dropped_total", reason="incomplete") == 1
    rules = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    missing = []
    checked = 0
    for group in rules["groups"]:
        for rule in group["rules"]:
            for name, matchers in selectors(rule["expr"]):
                checked += 1
                if not any(matches(sample, name, matchers) for sample in found):
                    missing.append(f"{rule['alert']}: {name}{{{matchers}}}")
    assert checked >= 12
    assert missing == []
