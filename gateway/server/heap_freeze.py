"""How a server process keeps the garbage collector's work small.

One policy: freezes at two moments, and fewer young collections. At start-up,
everything built so far (trees, templates, clients) lives as long as the process; and
much of what a worker keeps for its whole life is built by its first requests, not at
start-up: number metadata and country names (loaded on first use), the engine's memory,
the session caches. Left in the collector's sight, each full collection walked all of
it, a pause of tens of milliseconds that showed as the p99. So the process collects and
freezes what is alive once at start-up and again after :data:`WARM_UP_REQUESTS` USSD requests.

Frozen objects are still freed when no longer referenced; only a cycle among objects
that were alive at a freeze would stay, and there are four freezes.

And while it serves, the young generation is collected after :data:`SERVING_THRESHOLDS`
allocations, not Python's 700. Nearly everything a request allocates is freed by
reference counting, which takes it out of the young generation; what a collection finds
there is the live state of the requests in flight (with 64 connections, some thousand
coroutines, futures and header dicts), and at 700 the count crossed the threshold on
almost every swing of the load, each pass walking all of it: 3 to 4% of the server's
instructions under wrk (callgrind), a pass every 60 to 110 requests. At 10,000 a pass
comes every ~10,000 requests, and the cyclic garbage that waits for it is small (the
collector finds about 3 objects in 100 requests).
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from aiohttp import web

from gateway.ussd.types import USSDReply, USSDRequest

# After this many USSD requests, what has lived through them is frozen too.
WARM_UP_REQUESTS = (2_000, 20_000, 200_000)

# The collector's thresholds while serving: young, middle, old (Python's are 700, 10, 10).
SERVING_THRESHOLDS = (10_000, 10, 10)

Observer = Callable[[USSDRequest, USSDReply, float, str], None]


def collect_and_freeze() -> None:
    """Collect what is garbage now, then move every survivor out of the collector's sight."""
    gc.collect()
    gc.freeze()


def collect_young_less_often() -> None:
    """Set :data:`SERVING_THRESHOLDS`: a young collection after that many allocations."""
    gc.set_threshold(*SERVING_THRESHOLDS)


async def prepare_heap_for_serving(_: web.Application) -> None:
    """An ``on_startup`` hook: what start-up built lives as long as the process, and from
    now on the young generation is collected less often."""
    collect_and_freeze()
    collect_young_less_often()


def freeze_after_warm_up(marks: tuple[int, ...] = WARM_UP_REQUESTS) -> Observer:
    """A USSD observer that, at each mark (a count of requests), collects and freezes
    what is alive."""
    served = [0]
    wanted = frozenset(marks)

    def count_and_freeze(
        _request: USSDRequest, _reply: USSDReply, _seconds: float, _service: str
    ) -> None:
        served[0] += 1
        if served[0] in wanted:
            collect_and_freeze()

    return count_and_freeze


def keep_heap_frozen(app: web.Application, observers: list[Observer]) -> None:
    """Install the policy: a freeze and the serving thresholds once the app has started,
    and a freeze at each warm-up mark of the USSD requests ``observers`` are told about."""
    app.on_startup.append(prepare_heap_for_serving)
    observers.append(freeze_after_warm_up())
