"""Graceful shutdown: the ordered, bounded stop sequence of one gateway process.

On SIGTERM, ``web.run_app`` (aiohttp 3.14) already does the HTTP half, in this order:

1. close the listening sockets: no new connections (nginx tries the next worker);
2. close idle keep-alive connections, then fire ``app.on_shutdown``;
3. wait for the requests in flight, at most ``shutdown_timeout`` seconds;
4. exit the ``cleanup_ctx`` contexts, last registered first.

:class:`GracefulShutdown` supplies the rest. Its ``on_shutdown`` hook marks the process
as draining (its readiness check fails from then on), and its cleanup context, once the
requests in flight are done, runs the steps the app registered, in order, each under its
own deadline. For a gateway process the steps are, in this order::

    stop claiming          the broadcast worker takes no new outbox rows
    await responses        submits in flight get their submit_sm_resp (bounded)
    unbind                 every SMPP bind unbinds, or is closed at its deadline
    release claims         claimed but unsent outbox rows go back to the queue now,
                           not when their lease runs out
    close                  store, Redis

A step that overruns or raises is logged and the next one runs anyway: a stuck unbind
must not keep the claims from being released. The sum of the deadlines plus
``shutdown_timeout`` should stay below the supervisor's kill deadline
(``TimeoutStopSec=30s``, ``stop_grace_period: 30s`` in deploy/).

Wiring, in ``create_app`` (register the context LAST, so that it exits FIRST, while the
store and the SMPP pool it needs are still open)::

    shutdown = GracefulShutdown()
    shutdown.add("stop claiming", worker.stop_claiming, timeout=2)
    shutdown.add("unbind", pool.stop, timeout=10)
    shutdown.add("release claims", release_my_claims, timeout=3)
    app.on_shutdown.append(shutdown.on_shutdown)
    app.cleanup_ctx.append(shutdown.cleanup_ctx)
    checks.append(shutdown.readiness_check())

A process without HTTP (the broadcast worker) calls :meth:`GracefulShutdown.run`
itself from its SIGTERM handler.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Literal

import structlog
from aiohttp import web

from gateway.observability.metrics import ReadinessCheck, flag_check

log = structlog.get_logger(__name__)

Outcome = Literal["done", "timed_out", "failed"]


@dataclass(frozen=True)
class ShutdownStep:
    name: str
    action: Callable[[], Awaitable[object]]
    timeout: float


@dataclass(frozen=True)
class StepResult:
    name: str
    outcome: Outcome
    seconds: float


class GracefulShutdown:
    """Registered stop steps, run once, in order, each bounded in time."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._steps: list[ShutdownStep] = []
        self._clock = clock
        self._draining = False
        self._results: list[StepResult] | None = None
        self._running: asyncio.Task[list[StepResult]] | None = None

    @property
    def draining(self) -> bool:
        return self._draining

    def add(self, name: str, action: Callable[[], Awaitable[object]], timeout: float) -> None:
        if timeout <= 0:
            raise ValueError("a shutdown step needs a positive timeout")
        if self._draining:
            raise RuntimeError("cannot add a step once the shutdown has begun")
        self._steps.append(ShutdownStep(name, action, timeout))

    @property
    def total_timeout(self) -> float:
        return sum(step.timeout for step in self._steps)

    def begin(self) -> None:
        """Stop reporting ready; nothing else happens yet."""
        if not self._draining:
            self._draining = True
            log.info("shutdown_begun", steps=[step.name for step in self._steps])

    def readiness_check(self) -> ReadinessCheck:
        return flag_check("accepting", lambda: not self._draining)

    async def run(self) -> list[StepResult]:
        """Run every step once; later and concurrent calls get the same results."""
        if self._results is not None:
            return self._results
        if self._running is None:
            self._running = asyncio.ensure_future(self._run_steps())
        return await asyncio.shield(self._running)

    async def _run_steps(self) -> list[StepResult]:
        self.begin()
        results = [await self._run_step(step) for step in self._steps]
        self._results = results
        log.info(
            "shutdown_finished",
            outcomes={result.name: result.outcome for result in results},
        )
        return results

    async def _run_step(self, step: ShutdownStep) -> StepResult:
        started = self._clock()
        outcome: Outcome = "done"
        try:
            async with asyncio.timeout(step.timeout):
                await step.action()
        except TimeoutError:
            outcome = "timed_out"
            log.warning("shutdown_step_timed_out", step=step.name, timeout=step.timeout)
        except Exception as exc:
            outcome = "failed"
            log.warning("shutdown_step_failed", step=step.name, error=type(exc).__name__)
        result = StepResult(step.name, outcome, self._clock() - started)
        log.info("shutdown_step", step=step.name, outcome=outcome, seconds=round(result.seconds, 3))
        return result

    # aiohttp wiring

    async def on_shutdown(self, app: web.Application) -> None:
        self.begin()

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        yield
        await self.run()
