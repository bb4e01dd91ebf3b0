"""When a server process hides its long-lived objects from the garbage collector.

One policy, two moments. At start-up, everything built so far (trees, templates,
clients) lives as long as the process; and much of what a worker keeps for its whole
life is built by its first requests, not at start-up: number metadata and country
names (loaded on first use), the engine's memory, the session caches. Left in the
collector's sight, each full collection walked all of it, a pause of tens of
milliseconds that showed as the p99. So the process collects and freezes what is alive
once at start-up and again after :data:`WARM_UP_REQUESTS` USSD requests.

Frozen objects are still freed when no longer referenced; only a cycle among objects
that were alive at a freeze would stay, and there are four freezes.
"""

from __future__ import annotations

import gc
from collections.abc import Callable

from aiohttp import web

from gateway.ussd.types import USSDReply, USSDRequest

# After this many USSD requests, what has lived through them is frozen too.
WARM_UP_REQUESTS = (2_000, 20_000, 200_000)

Observer = Callable[[USSDRequest, USSDReply, float, str], None]


def collect_and_freeze() -> None:
    """Collect what is garbage now, then move every survivor out of the collector's sight."""
    gc.collect()
    gc.freeze()


async def freeze_startup_objects(_: web.Application) -> None:
    """An ``on_startup`` hook: what start-up built lives as long as the process."""
    collect_and_freeze()


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
    """Install the policy: a freeze once the app has started, and one at each warm-up
    mark of the USSD requests ``observers`` are told about."""
    app.on_startup.append(freeze_startup_objects)
    observers.append(freeze_after_warm_up())
