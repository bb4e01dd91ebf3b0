"""What the first requests build for the worker's whole life leaves the collector's sight,
and a serving process collects its young generation less often."""

from __future__ import annotations

import gc
import weakref
from typing import Any

from aiohttp import web

from gateway.server.app import create_app
from gateway.server.heap_freeze import (
    SERVING_THRESHOLDS,
    Observer,
    freeze_after_warm_up,
    keep_heap_frozen,
    prepare_heap_for_serving,
)
from gateway.settings import Settings
from gateway.ussd.types import USSDReply, USSDRequest

REQUEST = USSDRequest("africastalking", "s", "+254700000001", "*384#", "63902", "", "", True)
REPLY = USSDReply("Welcome", False, "main")


def test_what_lives_through_the_warm_up_is_frozen_at_each_mark_and_only_then() -> None:
    observe = freeze_after_warm_up((3, 5))
    try:
        gc.unfreeze()
        kept = [{"country": "Kenya"} for _ in range(1000)]  # lazily loaded, kept for life
        counts = []
        for _ in range(6):
            observe(REQUEST, REPLY, 0.001, "safe-journey")
            counts.append(gc.get_freeze_count())
        assert counts[0] == counts[1] == 0
        assert counts[2] >= len(kept)  # the third request froze what was alive
        assert counts[3] == counts[2]
        assert counts[4] >= counts[2] and counts[5] == counts[4]
        in_sight = {id(o) for o in gc.get_objects()}  # the generations a collection walks
        assert not any(id(x) in in_sight for x in kept)
    finally:
        gc.unfreeze()


def test_the_policy_freezes_at_start_up_and_counts_the_requests_served() -> None:
    app = web.Application()
    observers: list[Observer] = []
    keep_heap_frozen(app, observers)
    assert prepare_heap_for_serving in app.on_startup
    assert [observer.__name__ for observer in observers] == ["count_and_freeze"]


class Node:
    """An object that can sit in a reference cycle and be watched with a weak reference."""

    me: Node | None = None


async def test_a_started_server_collects_the_young_less_often_and_still_frees_cycles(
    aiohttp_client: Any, settings: Settings
) -> None:
    python_default = gc.get_threshold()
    gc.set_threshold(700, 10, 10)
    try:
        app = await create_app(settings, broadcast_worker=False)
        assert gc.get_threshold() == (700, 10, 10)  # building the app is not serving
        client = await aiohttp_client(app)  # starts it, as ``gateway serve`` does
        assert (await client.get("/healthz")).status == 200
        assert gc.get_threshold() == SERVING_THRESHOLDS
        assert gc.isenabled()

        cycle = Node()
        cycle.me = cycle
        watched = weakref.ref(cycle)
        del cycle
        # Enough allocations for a young collection under the serving thresholds, and
        # no gc.collect(): the collector runs on its own and frees the cycle.
        kept = [[] for _ in range(2 * SERVING_THRESHOLDS[0])]
        assert len(kept) == 2 * SERVING_THRESHOLDS[0]
        assert watched() is None
    finally:
        gc.set_threshold(*python_default)
        gc.unfreeze()
