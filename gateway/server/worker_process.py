"""``gateway broadcast run``: a process whose job is sending, built like ``serve``.

The runtime comes from the same :func:`gateway.server.runtime.open_runtime` as the
server's, so the worker paces at the SMSC grants, answers USSD sessions that arrive
on its SMPP binds with the same USSD service (sessions shared through Redis), and
feeds the same metrics. It serves ``/metrics``, ``/healthz`` and ``/readyz`` on
``GATEWAY_WORKER_PORT``. On SIGTERM (or SIGINT) it stops claiming rows, finishes the
ones it holds, unbinds from every SMSC and closes the store.
"""

from __future__ import annotations

import asyncio
import signal

import structlog
from aiohttp import web

from gateway.observability.metrics import Metrics, ReadinessCheck, serve_ops
from gateway.server.runtime import WorkerTuning, open_runtime
from gateway.server.shutdown import GracefulShutdown
from gateway.settings import Settings

log = structlog.get_logger(__name__)


async def run_worker_process(settings: Settings, tuning: WorkerTuning) -> int:
    """Send until stopped (or, with ``tuning.until_idle``, until nothing is sending)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        async with open_runtime(settings, worker_tuning=tuning, channel_required=True) as runtime:
            shutdown = GracefulShutdown()
            checks = [*runtime.readiness_checks(), shutdown.readiness_check()]
            ops = await _serve_ops(runtime.metrics, checks, settings)
            stopping = asyncio.create_task(stop.wait())
            try:
                await asyncio.wait({stopping, *runtime.tasks}, return_when=asyncio.FIRST_COMPLETED)
                shutdown.begin()  # /readyz says 503 while we drain
                log.info("worker.stopping", signal=stop.is_set())
                await runtime.stop_worker()
                if runtime.smpp is not None:
                    await runtime.smpp.stop()  # unbind now, while the store is open
                for task in runtime.tasks:
                    failure = task.exception() if task.done() and not task.cancelled() else None
                    if failure is not None:
                        raise failure
            finally:
                stopping.cancel()
                if ops is not None:
                    await ops.cleanup()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)
    log.info("worker.stopped")
    return 0


async def _serve_ops(
    metrics: Metrics, checks: list[ReadinessCheck], settings: Settings
) -> web.AppRunner | None:
    """The three operational routes on ``GATEWAY_WORKER_PORT`` (0: none). A port that is
    taken is logged as an error and the worker sends anyway: its outbox rows matter
    more than its metrics, and Prometheus reports the target down."""
    if settings.worker_port == 0:
        return None
    try:
        runner = await serve_ops(metrics, checks, settings.host, settings.worker_port)
    except OSError as exc:
        log.error("worker.ops_port_unavailable", port=settings.worker_port, error=str(exc))
        return None
    log.info("worker.ops", host=settings.host, port=settings.worker_port)
    return runner
