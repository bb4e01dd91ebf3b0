"""The baselines of the USSD benchmark: bare aiohttp handlers that parse AT's form.

    python bench/bare_handler.py --port N [--redis URL]

With ``--redis``, each request makes one Redis round trip (a ``GET`` of a key made from
the session id) with the same client (:func:`session_redis_client`), the same
auto-pipelining (:class:`AutoPipeline`) and the same event loop as the gateway: what
the gateway's hop costs beyond HTTP, the form and one trip to Redis is then the
gateway's own work. Without it, no Redis at all: the ceiling of aiohttp on this machine.
With ``--gateway-http``, the gateway's HTTP set-up around the same handler: its
``error_guard`` middleware, a sub-app with a middleware of its own mounted at
``/console/`` (as the console is, which makes aiohttp run its current-app layer on every
request) and the path-only access logger: what that set-up costs a request.
Every baseline collects the garbage collector's young generation as seldom as the gateway
does (:func:`collect_young_less_often`): a baseline gets every optimisation the product gets.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.africastalking.ussd_dialect import parse_ussd_form
from gateway.observability.access_log import PathOnlyAccessLogger
from gateway.server.heap_freeze import collect_young_less_often
from gateway.server.safe_errors import Handler, error_guard
from gateway.ussd.redis_pipeline import AutoPipeline
from gateway.ussd.sessions import SESSION_PREFIX, session_redis_client


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis", default="", help="one Redis round trip per request")
    parser.add_argument("--gateway-http", action="store_true", help="the gateway's HTTP set-up")
    args = parser.parse_args()
    pipeline = AutoPipeline(session_redis_client(args.redis)) if args.redis else None
    collect_young_less_often()

    async def handler(request: web.Request) -> web.Response:
        form = await request.post()
        ussd = parse_ussd_form({k: str(v) for k, v in form.items()})
        if pipeline is not None:
            await pipeline.execute("GET", SESSION_PREFIX + ussd.session_id)
        return web.Response(text="CON hello", content_type="text/plain", charset="utf-8")

    if not args.gateway_http:
        app = web.Application()
        app.router.add_post("/africastalking/ussd", handler)
        web.run_app(app, host="127.0.0.1", port=args.port, access_log=None, print=None)
        return

    @web.middleware
    async def console_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        return await handler(request)

    async def page(_: web.Request) -> web.Response:
        return web.Response(text="console")

    app = web.Application(middlewares=[error_guard])
    app.router.add_post("/africastalking/ussd", handler)
    console = web.Application(middlewares=[console_guard])
    console.router.add_get("/", page)
    app.add_subapp("/console/", console)
    web.run_app(
        app, host="127.0.0.1", port=args.port, access_log_class=PathOnlyAccessLogger, print=None
    )


if __name__ == "__main__":
    main()
