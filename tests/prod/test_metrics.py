"""Metrics registry isolation, the /metrics exposition, and the /healthz and /readyz probes."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import redis.asyncio as aioredis
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families

from gateway.observability.metrics import (
    Metrics,
    ReadinessCheck,
    flag_check,
    ops_routes,
    readyz_handler,
    redis_check,
    serve_ops,
    smpp_check,
)


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Parse our own exposition as Prometheus would."""
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def ok(name: str) -> ReadinessCheck:
    async def probe() -> bool:
        return True

    return ReadinessCheck(name, probe)


def app_with(metrics: Metrics, checks: list[ReadinessCheck]) -> web.Application:
    app = web.Application()
    app.add_routes(ops_routes(metrics, checks))
    return app


def test_two_metrics_objects_in_one_process_count_separately() -> None:
    first, second = Metrics(), Metrics()
    first.ussd_request("africastalking", "con", 0.02)
    first.ussd_request("africastalking", "con", 0.03)
    second.ussd_request("africastalking", "end", 0.5)
    labels = (("channel", "africastalking"), ("outcome", "con"), ("service", "default"))
    key = ("gateway_ussd_requests_total", labels)
    assert samples(first)[key] == 2
    assert key not in samples(second)


def test_recorded_events_appear_with_their_labels() -> None:
    metrics = Metrics()
    metrics.session_started("smpp:op1")
    metrics.session_dropped("smpp:op1", "timeout")
    metrics.link_state("op1", 0, up=True)
    metrics.link_state("op1", 1, up=False)
    metrics.window_in_use("op1", 0, 7)
    metrics.submitted("op1", 3)
    metrics.throttled("op1")
    metrics.waited_for_budget("op1", 0.25)
    metrics.waited_for_budget("op1", 0.0)
    metrics.delivery_report("smpp:op1", "delivered")
    metrics.redis_error("session_load")
    metrics.db_error("claim_outbox")
    found = samples(metrics)
    started = (("channel", "smpp:op1"), ("service", "default"))
    assert found[("gateway_ussd_sessions_started_total", started)] == 1
    dropped = (("channel", "smpp:op1"), ("reason", "timeout"), ("service", "default"))
    assert found[("gateway_ussd_sessions_dropped_total", dropped)] == 1
    assert found[("gateway_smpp_link_up", (("bind", "0"), ("smsc", "op1")))] == 1
    assert found[("gateway_smpp_link_up", (("bind", "1"), ("smsc", "op1")))] == 0
    assert found[("gateway_smpp_window_in_use", (("bind", "0"), ("smsc", "op1")))] == 7
    assert found[("gateway_smpp_submits_total", (("smsc", "op1"),))] == 3
    assert found[("gateway_smpp_throttles_total", (("smsc", "op1"), ("source", "smsc")))] == 1
    # a zero wait is not a throttle
    assert found[("gateway_smpp_throttles_total", (("smsc", "op1"), ("source", "budget")))] == 1
    assert found[("gateway_tps_budget_wait_seconds_total", (("smsc", "op1"),))] == 0.25
    assert (
        found[("gateway_delivery_reports_total", (("channel", "smpp:op1"), ("state", "delivered")))]
        == 1
    )
    assert found[("gateway_redis_errors_total", (("operation", "session_load"),))] == 1
    assert found[("gateway_db_errors_total", (("operation", "claim_outbox"),))] == 1


def test_latency_lands_in_the_right_histogram_bucket() -> None:
    metrics = Metrics()
    metrics.ussd_request("africastalking", "con", 0.07)
    found = samples(metrics)
    bucket = "gateway_ussd_request_duration_seconds_bucket"
    assert found[(bucket, (("channel", "africastalking"), ("le", "0.05")))] == 0
    assert found[(bucket, (("channel", "africastalking"), ("le", "0.1")))] == 1


def test_a_finished_broadcast_is_forgotten_and_others_stay() -> None:
    metrics = Metrics()
    metrics.broadcast_progress("17", {"pending": 10, "submitted": 5})
    metrics.broadcast_progress("18", {"pending": 3})
    metrics.broadcast_progress("17", {"pending": 0, "delivered": 15})
    found = samples(metrics)
    assert (
        found[("gateway_broadcast_messages", (("broadcast", "17"), ("state", "delivered")))] == 15
    )
    assert found[("gateway_broadcast_messages", (("broadcast", "17"), ("state", "pending")))] == 0
    metrics.forget_broadcast("17")
    remaining = {
        labels for name, labels in samples(metrics) if name == "gateway_broadcast_messages"
    }
    assert remaining == {(("broadcast", "18"), ("state", "pending"))}


async def test_metrics_endpoint_serves_the_text_format(aiohttp_client: Any) -> None:
    metrics = Metrics()
    metrics.ussd_request("africastalking", "end", 0.01)
    client = await aiohttp_client(app_with(metrics, []))
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    body = await response.text()
    assert (
        'gateway_ussd_requests_total{channel="africastalking",outcome="end",service="default"} 1.0'
        in body
    )


async def test_healthz_answers_while_the_loop_runs(aiohttp_client: Any) -> None:
    async def never_ready() -> bool:
        return False

    client = await aiohttp_client(app_with(Metrics(), [ReadinessCheck("store", never_ready)]))
    response = await client.get("/healthz")
    assert response.status == 200


async def test_readyz_is_200_when_every_check_passes(aiohttp_client: Any) -> None:
    metrics = Metrics()
    client = await aiohttp_client(
        app_with(metrics, [ok("store"), flag_check("menus", lambda: True)])
    )
    response = await client.get("/readyz")
    assert response.status == 200
    assert await response.json() == {"ready": True, "checks": {"store": "ok", "menus": "ok"}}
    assert samples(metrics)[("gateway_ready", (("check", "menus"),))] == 1


async def test_readyz_names_false_raising_and_hanging_checks(aiohttp_client: Any) -> None:
    async def false() -> bool:
        return False

    async def raises() -> bool:
        raise ConnectionRefusedError("postgresql://user:hunter2@db/gw refused")

    async def hangs() -> bool:
        await asyncio.sleep(3600)
        return True

    metrics = Metrics()
    checks = [
        ok("menus"),
        ReadinessCheck("smpp", false),
        ReadinessCheck("store", raises),
        ReadinessCheck("redis", hangs, timeout=0.05),
    ]
    client = await aiohttp_client(app_with(metrics, checks))
    response = await client.get("/readyz")
    assert response.status == 503
    body = await response.json()
    assert body == {
        "ready": False,
        "checks": {"menus": "ok", "smpp": "failed", "store": "failed", "redis": "failed"},
    }
    assert "hunter2" not in json.dumps(body)
    assert samples(metrics)[("gateway_ready", (("check", "store"),))] == 0


def test_readiness_check_names_must_be_unique() -> None:
    try:
        readyz_handler([ok("store"), ok("store")])
    except ValueError as exc:
        assert "unique" in str(exc)
    else:
        raise AssertionError("duplicate names accepted")


async def test_readyz_follows_a_real_redis_going_away_and_back(
    aiohttp_client: Any, redis_server: Any
) -> None:
    connection = aioredis.Redis.from_url(redis_server.url, socket_connect_timeout=0.5)
    try:
        client = await aiohttp_client(app_with(Metrics(), [redis_check(connection)]))
        assert (await client.get("/readyz")).status == 200
        redis_server.stop()
        assert (await client.get("/readyz")).status == 503
        redis_server.start()
        assert (await client.get("/readyz")).status == 200
    finally:
        await connection.aclose()


def test_names_lists_every_family_with_counter_suffixes() -> None:
    names = Metrics().names()
    assert "gateway_ussd_requests_total" in names
    assert "gateway_ussd_request_duration_seconds" in names
    assert "gateway_smpp_link_up" in names
    assert len(names) == len(set(names))


def test_smpp_gauges_follow_the_pool_status_at_each_scrape() -> None:
    metrics = Metrics()
    status = [
        {"smsc": "op1", "bind": 0, "bound": True, "in_flight": 4},
        {"smsc": "op1", "bind": 1, "bound": False, "in_flight": 0},
    ]
    metrics.follow_smpp_status(lambda: status)
    found = samples(metrics)
    assert found[("gateway_smpp_link_up", (("bind", "0"), ("smsc", "op1")))] == 1
    assert found[("gateway_smpp_window_in_use", (("bind", "0"), ("smsc", "op1")))] == 4
    status[0] = {"smsc": "op1", "bind": 0, "bound": False, "in_flight": 0}
    assert samples(metrics)[("gateway_smpp_link_up", (("bind", "0"), ("smsc", "op1")))] == 0


def test_a_failing_status_source_does_not_break_the_exposition() -> None:
    metrics = Metrics()

    def broken() -> list[dict[str, object]]:
        raise RuntimeError("pool gone")

    metrics.follow_smpp_status(broken)
    metrics.ussd_request("africastalking", "con", 0.01)
    assert b"gateway_ussd_requests_total" in metrics.exposition()


async def test_smpp_check_passes_with_one_bound_link() -> None:
    status: list[dict[str, object]] = [{"smsc": "op1", "bind": 0, "bound": False}]
    check = smpp_check(lambda: status)
    assert await check.probe() is False
    status.append({"smsc": "op1", "bind": 1, "bound": True})
    assert await check.probe() is True


def test_submit_responses_by_status_follow_the_pool_status() -> None:
    metrics = Metrics()
    entry: dict[str, object] = {"smsc": "op1", "bind": 0, "bound": True}
    entry["responses"] = {"ESME_ROK": 4, "ESME_RTHROTTLED": 1}
    metrics.follow_smpp_status(lambda: [entry])
    samples(metrics)
    entry["responses"] = {"ESME_ROK": 6, "ESME_RTHROTTLED": 1, "ESME_RINVDSTADR": 2}
    found = samples(metrics)
    name = "gateway_smpp_submit_responses_total"
    assert found[(name, (("smsc", "op1"), ("status", "ESME_ROK")))] == 6
    assert found[(name, (("smsc", "op1"), ("status", "ESME_RTHROTTLED")))] == 1
    assert found[(name, (("smsc", "op1"), ("status", "ESME_RINVDSTADR")))] == 2


async def test_serve_ops_answers_on_its_own_port() -> None:
    import aiohttp

    from tests.servers import free_port

    metrics = Metrics()
    metrics.broadcast_progress("3", {"pending": 7})
    port = free_port()
    runner = await serve_ops(metrics, [flag_check("worker", lambda: True)], "127.0.0.1", port)
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                body = await response.text()
            async with session.get(f"http://127.0.0.1:{port}/readyz") as ready:
                assert ready.status == 200
    finally:
        await runner.cleanup()
    assert 'gateway_broadcast_messages{broadcast="3",state="pending"} 7.0' in body


def test_smpp_cumulative_counts_become_counter_increments() -> None:
    metrics = Metrics()
    entry: dict[str, object] = {"smsc": "op1", "bind": 0, "bound": True, "submitted": 5}
    entry["throttled"] = 1
    metrics.follow_smpp_status(lambda: [entry])
    samples(metrics)
    entry["submitted"], entry["throttled"] = 12, 1
    found = samples(metrics)
    assert found[("gateway_smpp_submits_total", (("smsc", "op1"),))] == 12
    assert found[("gateway_smpp_throttles_total", (("smsc", "op1"), ("source", "smsc")))] == 1
    entry["submitted"] = 3  # the bind's stats were reset: all three are new
    assert samples(metrics)[("gateway_smpp_submits_total", (("smsc", "op1"),))] == 15


async def test_broadcast_progress_follows_the_store_at_each_scrape(
    aiohttp_client: Any, tmp_path: Any
) -> None:
    from gateway.store.records import Audience, NewBroadcast, Submission
    from gateway.store.sql_store import SQLStore

    store = await SQLStore.open(tmp_path / "g.db")
    t0 = 1_700_000_000.0
    try:
        for index in range(5):
            person = await store.upsert_subscriber(f"h{index}", b"s", "en", "sms", t0)
            await store.subscribe(person.id, "alerts", "", "en", t0)
        broadcast_id = await store.create_broadcast(
            NewBroadcast({"en": "x"}, "en", Audience(("alerts",)), "src", "a", t0 + 99), t0
        )
        await store.set_broadcast_state(broadcast_id, "draft", "sending", t0)
        await store.expand_audience(broadcast_id, 100, t0)
        metrics = Metrics()
        metrics.follow_broadcasts(store)
        client = await aiohttp_client(app_with(metrics, []))

        async def scrape() -> dict[str, float]:
            text = await (await client.get("/metrics")).text()
            return {
                sample.labels["state"]: sample.value
                for family in text_string_to_metric_families(text)
                for sample in family.samples
                if sample.name == "gateway_broadcast_messages"
            }

        assert await scrape() == {"queued": 5, "pending": 5}
        claimed = await store.claim_outbox(broadcast_id, "w", 5, t0, 30)
        assert await scrape() == {"queued": 0, "claimed": 5, "pending": 5}
        await store.record_submissions(
            "smpp:op1", [Submission(c.outbox_id, "accepted", ("m",)) for c in claimed[:1]], t0, 3
        )
        assert (await scrape())["submitted"] == 1
        await store.set_broadcast_state(broadcast_id, "sending", "done", t0)
        assert await scrape() == {}
    finally:
        await store.close()


async def test_the_service_label_takes_configured_services_only() -> None:
    metrics = Metrics()
    counts = {"": 4, "work-rights": 2}

    async def subscriber_counts() -> dict[str, int]:
        return counts

    def key_of(tree_id: str) -> str:
        return "" if tree_id == "safe-journey" else tree_id

    metrics.follow_services(
        ["safe-journey", "work-rights"], lambda: {"work-rights"}, subscriber_counts, key_of
    )
    metrics.ussd_request("africastalking", "end", 0.01, "work-rights")
    metrics.ussd_request("africastalking", "end", 0.01, "made-up-by-a-caller")
    await metrics.refresh()
    found = samples(metrics)
    ussd = "gateway_ussd_requests_total"
    labels = (("channel", "africastalking"), ("outcome", "end"))
    assert found[(ussd, (*labels, ("service", "work-rights")))] == 1
    assert found[(ussd, (*labels, ("service", "safe-journey")))] == 1  # not a new series
    assert {dict(k[1])["service"] for k in found if k[0] == ussd} == {
        "safe-journey",
        "work-rights",
    }
    assert found[("gateway_subscribers", (("service", "safe-journey"),))] == 4
    assert found[("gateway_subscribers", (("service", "work-rights"),))] == 2
    assert found[("gateway_service_up", (("service", "safe-journey"),))] == 1
    assert found[("gateway_service_up", (("service", "work-rights"),))] == 0


CHANNELS = st.sampled_from(["africastalking", "smpp", "sms", "voice"])
SERVICES = st.sampled_from(["", "default", "work-rights", "made-up-by-a-caller"])
SECONDS = st.one_of(
    st.sampled_from([0.0, 0.005, 0.01, 0.0100001, 1.0, 10.0, 10.5, -0.001, float("nan")]),
    st.floats(min_value=0, max_value=20, allow_nan=False),
)
EVENTS = st.lists(
    st.one_of(
        st.tuples(
            st.just("request"),
            CHANNELS,
            st.sampled_from(["continue", "end", "error"]),
            SECONDS,
            SERVICES,
        ),
        st.tuples(st.just("started"), CHANNELS, SERVICES),
        st.tuples(st.just("ended"), CHANNELS, SERVICES),
        st.tuples(st.just("scrape")),
        st.tuples(st.just("services")),
    ),
    max_size=60,
)


def _without_created_times(exposition: bytes) -> list[bytes]:
    """The exposition's lines, a ``_created`` sample's time (when its series was made)
    replaced by a mark: two objects made apart in time differ there only."""
    return [
        line.rsplit(b" ", 1)[0] + b" <time>" if b"_created{" in line else line
        for line in exposition.splitlines()
    ]


@settings(max_examples=150, deadline=None)
@given(EVENTS)
def test_the_ussd_helpers_expose_what_prometheus_client_fed_directly_would(
    events: list[tuple[Any, ...]],
) -> None:
    """The helpers count in plain numbers; the exposition is byte for byte the one of
    the same series fed through ``labels().inc()`` and ``observe()`` on every event."""
    lean, direct = Metrics(), Metrics()
    for event in events:
        kind = event[0]
        if kind == "request":
            _, channel, outcome, seconds, service = event
            lean.ussd_request(channel, outcome, seconds, service)
            direct.ussd_requests.labels(channel, outcome, direct.service_label(service)).inc()
            direct.ussd_latency.labels(channel).observe(seconds)
        elif kind in ("started", "ended"):
            _, channel, service = event
            getattr(lean, f"session_{kind}")(channel, service)
            series = direct.sessions_started if kind == "started" else direct.sessions_ended
            series.labels(channel, direct.service_label(service)).inc()
        elif kind == "scrape":
            assert _without_created_times(lean.exposition()) == _without_created_times(
                direct.exposition()
            )
        else:  # the configured services become known after some requests
            for metrics in (lean, direct):
                metrics.follow_services(["default", "work-rights"], set, _no_counts, str)
    assert _without_created_times(lean.exposition()) == _without_created_times(direct.exposition())


async def _no_counts() -> dict[str, int]:
    return {}


def test_a_ussd_series_is_made_at_its_first_event_not_at_the_scrape() -> None:
    metrics = Metrics()
    before = time.time()
    metrics.ussd_request("africastalking", "end", 0.01)
    metrics.session_started("africastalking")
    after = time.time()
    time.sleep(0.01)
    found = samples(metrics)
    labels = (("channel", "africastalking"), ("outcome", "end"), ("service", "default"))
    assert before <= found[("gateway_ussd_requests_created", labels)] <= after
    started = (("channel", "africastalking"), ("service", "default"))
    assert before <= found[("gateway_ussd_sessions_started_created", started)] <= after
    duration = (("channel", "africastalking"),)
    assert before <= found[("gateway_ussd_request_duration_seconds_created", duration)] <= after
