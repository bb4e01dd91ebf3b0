"""A process wired like the gateway's shutdown, for the SIGTERM test.

Usage: python shutdown_app.py PORT. Serves GET /slow (answers after 1 s) and /readyz;
prints one JSON line per event, so the parent can check their order.
"""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import AsyncIterator

from aiohttp import web

from gateway.observability.metrics import readyz_handler
from gateway.server.shutdown import GracefulShutdown


def say(event: str) -> None:
    print(json.dumps({"event": event}), flush=True)


def build() -> web.Application:
    shutdown = GracefulShutdown()
    app = web.Application()

    async def slow(request: web.Request) -> web.Response:
        say("slow_started")
        await asyncio.sleep(1.0)
        say("slow_finished")
        return web.Response(text="complete")

    async def unbind() -> None:
        say("unbind")

    async def stuck() -> None:
        say("stuck_started")
        await asyncio.sleep(3600)

    async def release() -> None:
        say("release_claims")

    shutdown.add("unbind", unbind, timeout=2)
    shutdown.add("stuck", stuck, timeout=0.2)
    shutdown.add("release claims", release, timeout=2)

    async def resources(app: web.Application) -> AsyncIterator[None]:
        yield
        say("store_closed")

    app.router.add_get("/slow", slow)
    app.router.add_get("/readyz", readyz_handler([shutdown.readiness_check()]))
    app.cleanup_ctx.append(resources)
    app.on_shutdown.append(shutdown.on_shutdown)
    app.cleanup_ctx.append(shutdown.cleanup_ctx)  # last: exits first
    return app


if __name__ == "__main__":
    say("starting")
    web.run_app(build(), host="127.0.0.1", port=int(sys.argv[1]), print=None, shutdown_timeout=5)
    say("exited")
