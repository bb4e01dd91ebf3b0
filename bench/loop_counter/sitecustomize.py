"""Counts the event loop's work, for bench/ussd_syscalls.py ``--loop``.

A server started with this folder first on ``PYTHONPATH`` imports it at start-up: each
call of ``call_soon``, ``call_at`` (timers), ``create_task``, ``create_future`` and
``_run_once`` (loop turns) on any asyncio loop is counted, and SIGUSR1 writes the counts
as JSON to ``$LOOP_COUNTS_DIR/<pid>.json``. Never imported by the gateway itself.
"""

from __future__ import annotations

import asyncio.base_events
import json
import os
import signal
from collections import Counter
from collections.abc import Callable
from typing import Any

COUNTED = ("call_soon", "call_at", "create_task", "create_future", "_run_once")
counts: Counter[str] = Counter()


def _counting(name: str) -> Callable[..., Any]:
    original = getattr(asyncio.base_events.BaseEventLoop, name)

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        counts[name] += 1
        return original(self, *args, **kwargs)

    return counted


def _dump(*_: object) -> None:
    path = os.path.join(os.environ["LOOP_COUNTS_DIR"], f"{os.getpid()}.json")
    with open(path, "w") as file:
        json.dump(dict(counts), file)


if os.environ.get("LOOP_COUNTS_DIR"):
    for _name in COUNTED:
        setattr(asyncio.base_events.BaseEventLoop, _name, _counting(_name))
    signal.signal(signal.SIGUSR1, _dump)
