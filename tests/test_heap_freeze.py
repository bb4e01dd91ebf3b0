"""What the first requests build for the worker's whole life leaves the collector's sight."""

from __future__ import annotations

import gc

from aiohttp import web

from gateway.server.heap_freeze import (
    Observer,
    freeze_after_warm_up,
    freeze_startup_objects,
    keep_heap_frozen,
)
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
    assert freeze_startup_objects in app.on_startup
    assert [observer.__name__ for observer in observers] == ["count_and_freeze"]
