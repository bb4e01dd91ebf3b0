"""The application factory: ``await create_app(settings)`` wires every part together.

The parts themselves (store, channels, services) come from
:func:`gateway.runtime.open_runtime`; this module only puts the HTTP doors on them.
They are reached through typed ``web.AppKey`` values and closed in ``on_cleanup``;
there are no module-level singletons, so tests build as many apps as they like.
"""

from __future__ import annotations

import contextlib

import structlog
from aiohttp import web

from gateway.effects import EffectHandler
from gateway.live_tree import LiveTree
from gateway.runtime import Runtime, open_runtime
from gateway.sessions import SessionStore
from gateway.settings import Settings
from gateway.ussd.dropoff import SessionEndRecorder
from gateway.ussd.service import USSDService
from gateway.web.ussd_routes import ussd_routes

log = structlog.get_logger("gateway.app")

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
LIVE_TREE = web.AppKey("live_tree", LiveTree)
USSD = web.AppKey("ussd_service", USSDService)
DROPOFF = web.AppKey("dropoff", SessionEndRecorder)


async def create_app(
    settings: Settings,
    *,
    session_store: SessionStore | None = None,
    effects: EffectHandler | None = None,
    broadcast_worker: bool = True,
) -> web.Application:
    """Open the runtime and build the gateway's web application around it.

    Raises :class:`gateway.menu.loader.TreeError` for a bad tree: a tree that fails
    validation never goes live.
    """
    stack = contextlib.AsyncExitStack()
    runtime = await stack.enter_async_context(
        open_runtime(
            settings,
            session_store=session_store,
            effects=effects,
            broadcast_worker=broadcast_worker,
        )
    )
    app = web.Application(client_max_size=256 * 1024)
    app[SETTINGS] = settings
    app[RUNTIME] = runtime
    app[LIVE_TREE] = runtime.live_tree
    app[USSD] = runtime.ussd
    app[DROPOFF] = runtime.dropoff
    app.router.add_routes(
        ussd_routes(runtime.ussd, settings.callback_secret, runtime.live_tree, runtime.dropoff)
    )
    app.router.add_routes(runtime.messaging.sms_routes())
    app.router.add_get("/healthz", _healthz)

    async def close(_: web.Application) -> None:
        await stack.aclose()

    app.on_cleanup.append(close)
    return app


async def _healthz(request: web.Request) -> web.Response:
    runtime = request.app[RUNTIME]
    return web.json_response(
        {
            "status": "ok",
            "tree": runtime.live_tree.current.id,
            "channel": runtime.channel,
            "smsc": runtime.link_status(),
        }
    )
