"""/healthz, /readyz and /metrics of the assembled app, as Prometheus and a balancer see them."""

from __future__ import annotations

from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from gateway.server.app import create_app
from gateway.settings import Settings
from gateway.ussd.sessions import RedisSessionStore
from tests.servers import RedisServer
from tests.ussd.test_at_endpoint import form, post


def samples(text: str, name: str) -> dict[tuple[tuple[str, str], ...], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name:
                found[tuple(sorted(sample.labels.items()))] = sample.value
    return found


async def test_metrics_move_when_ussd_traffic_flows(
    aiohttp_client: Any, settings: Settings
) -> None:
    client = await aiohttp_client(await create_app(settings))
    assert (await client.get("/healthz")).status == 200
    before = await (await client.get("/metrics")).text()
    for text in ("", "1", "1*99"):
        assert (await post(client, form(text)))[0] == 200
    after = await (await client.get("/metrics")).text()
    name = "gateway_ussd_requests_total"
    assert sum(samples(after, name).values()) - sum(samples(before, name).values()) == 3
    assert sum(samples(after, "gateway_ussd_sessions_started_total").values()) == 1
    assert sum(samples(after, "gateway_ussd_sessions_ended_total").values()) == 1
    assert "254700123456" not in after


async def test_readyz_follows_redis(aiohttp_client: Any, settings: Settings, tmp_path: Any) -> None:
    server = RedisServer(tmp_path)
    server.start()
    try:
        env_settings = Settings(**{**settings.__dict__, "redis_url": server.url})
        app = await create_app(env_settings, session_store=RedisSessionStore.from_url(server.url))
        client = await aiohttp_client(app)
        ready = await client.get("/readyz")
        body = await ready.json()
        assert ready.status == 200 and body["checks"]["redis"] == "ok"
        assert body["checks"]["store"] == "ok" and body["checks"]["menus"] == "ok"
        server.stop()
        down = await client.get("/readyz")
        assert down.status == 503 and (await down.json())["checks"]["redis"] == "failed"
    finally:
        server.stop()


async def test_broadcast_progress_is_scraped_from_the_store(
    aiohttp_client: Any, settings: Settings
) -> None:
    import time

    from gateway.server.app_keys import RUNTIME
    from tests.alert_support import sent_alert

    app = await create_app(settings, broadcast_worker=False)
    client = await aiohttp_client(app)
    runtime = app[RUNTIME]
    await runtime.messaging.subscriptions.join(
        "+254700000009", "africastalking", "route-alerts", "en", time.time()
    )
    alert_id = await sent_alert(
        runtime.messaging.alerts, {"en": "Road closed."}, ("route-alerts",), expires_in=60
    )
    text = await (await client.get("/metrics")).text()
    progress = samples(text, "gateway_broadcast_messages")
    assert any(dict(labels).get("broadcast") == str(alert_id) for labels in progress)
