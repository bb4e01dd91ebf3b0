"""Routes as an operator sees them: the real app's /status and /metrics while a route
fails over between two node-smpp simulators (GATEWAY_ROUTES, by country)."""

from __future__ import annotations

import asyncio
import gc
import json
import warnings
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.sms.messages import OutboundSMS, SendOutcome
from tests.broadcast.conftest import number
from tests.conftest import settings_with
from tests.smpp.smsc_driver import Simulator, eventually, smsc_bind

ESME_RINVDSTADR = 0x0B


@pytest.fixture
async def two_smscs() -> AsyncIterator[tuple[Simulator, Simulator]]:
    first, second = await Simulator.start(), await Simulator.start()
    try:
        yield first, second
    finally:
        await first.stop()
        await second.stop()


def routed_settings(settings: Settings, first: Simulator, second: Simulator) -> Settings:
    smscs = [
        smsc_bind(smsc.port, name=name, source_addr="InfoLine", tps=1000)
        for name, smsc in (("first", first), ("second", second))
    ]
    routes = [{"name": "kenya", "countries": ["KE"], "targets": ["first", "second"], "tps": 500}]
    return settings_with(settings, SMSC=json.dumps(smscs), ROUTES=json.dumps(routes))


async def metrics(
    client: TestClient[Any, Any],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = await (await client.get("/metrics")).text()
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def series(name: str, **labels: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return (f"gateway_{name}", tuple(sorted(labels.items())))


async def test_status_and_metrics_show_each_route_its_targets_and_counts(
    aiohttp_client: Any, settings: Settings, two_smscs: tuple[Simulator, Simulator]
) -> None:
    first, second = two_smscs
    # numbers 10..19 (+254700000010..19) have no route at the first SMSC
    await first.configure(refuse=[{"prefix": "25470000001", "status": ESME_RINVDSTADR}])
    app = await create_app(routed_settings(settings, first, second))
    client: TestClient[Any, Any] = await aiohttp_client(app)
    runtime = app[RUNTIME]
    assert runtime.smpp is not None
    await eventually(lambda: all(s["bound"] for s in runtime.link_status()), within=20)

    results = await runtime.sender.send(
        [OutboundSMS(f"m{i}", number(i), "Road closed (sample)") for i in range(20)]
    )
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    status = await (await client.get("/status")).json()
    (route,) = status["routes"]
    assert route["route"] == "kenya" and route["matches"] == ["KE"] and route["tps"] == 500
    assert route["state"] == "up" and route["current"] == "first"
    by_target = {t["target"]: t for t in route["targets"]}
    assert by_target["first"]["up"] and by_target["second"]["up"]
    assert by_target["first"]["submitted"] == 20 and by_target["first"]["failed_over"] == 10
    assert by_target["second"]["failover"] == 10 and by_target["second"]["accepted"] == 10
    assert "2547" not in json.dumps(status)  # no number in the operator's view

    found = await metrics(client)
    assert found[series("route_up", route="kenya")] == 1
    assert found[series("route_target_up", route="kenya", target="first")] == 1
    assert found[series("route_current_target", route="kenya", target="first")] == 1
    assert found[series("route_current_target", route="kenya", target="second")] == 0
    messages = "route_messages_total"
    assert found[series(messages, route="kenya", target="first", kind="submitted")] == 20
    assert found[series(messages, route="kenya", target="first", kind="accepted")] == 10
    assert found[series(messages, route="kenya", target="first", kind="failed_over")] == 10
    assert found[series(messages, route="kenya", target="second", kind="failover")] == 10
    assert found[series(messages, route="kenya", target="second", kind="accepted")] == 10

    await first.kill()
    await eventually(lambda: not runtime.smpp.route_status()[0]["targets"][0]["up"], within=20)
    results = await runtime.sender.send([OutboundSMS("late", number(1), "Road open (sample)")])
    assert results[0].outcome is SendOutcome.ACCEPTED
    found = await metrics(client)
    assert found[series("route_target_up", route="kenya", target="first")] == 0
    assert found[series("route_current_target", route="kenya", target="second")] == 1
    assert found[series("route_current_target", route="kenya", target="first")] == 0
    assert found[series(messages, route="kenya", target="second", kind="failover")] == 11
    status = await (await client.get("/status")).json()
    assert status["routes"][0]["current"] == "second"


async def test_a_failover_goes_on_at_once_and_a_caller_that_gives_up_stops_it(
    aiohttp_client: Any, settings: Settings, two_smscs: tuple[Simulator, Simulator]
) -> None:
    """A refused message goes to the next target without waiting for the batch's
    other answers; when the caller is cancelled (a worker stopping), no failover is
    left running and no coroutine is dropped unawaited."""
    first, second = two_smscs
    silent = await Simulator.start()
    try:
        await first.configure(refuse=[{"prefix": "25470000001", "status": ESME_RINVDSTADR}])
        await silent.configure(silent_after_bind=True)  # takes submits, never answers
        smscs = [
            smsc_bind(smsc.port, name=name, source_addr="InfoLine", tps=1000)
            for name, smsc in (("first", first), ("second", second), ("silent", silent))
        ]
        routes = [
            {"name": "refused-range", "prefixes": ["+25470000001"], "targets": ["first", "second"]},
            {"name": "rest", "targets": ["silent"]},
        ]
        app = await create_app(
            settings_with(settings, SMSC=json.dumps(smscs), ROUTES=json.dumps(routes))
        )
        await aiohttp_client(app)
        runtime = app[RUNTIME]
        await eventually(lambda: all(s["bound"] for s in runtime.link_status()), within=20)

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            sending = asyncio.ensure_future(
                runtime.sender.send(
                    [
                        OutboundSMS("refused", number(10), "Road closed (sample)"),
                        OutboundSMS("unanswered", number(1), "Road closed (sample)"),
                    ]
                )
            )
            # the refused one reaches the second SMSC while the other is still unanswered
            await eventually(second.messages, within=10)
            assert not sending.done()
            sending.cancel()
            with pytest.raises(asyncio.CancelledError):
                await sending
            await asyncio.sleep(0)
            carrying_on = [
                task
                for task in asyncio.all_tasks()
                if "_carry_on" in getattr(task.get_coro(), "__qualname__", "")
            ]
            assert carrying_on == []
            gc.collect()
        assert [str(w.message) for w in caught if "never awaited" in str(w.message)] == []
    finally:
        await silent.stop()
