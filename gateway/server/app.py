"""The application factory: ``await create_app(settings)`` wires every part together.

The parts themselves (store, channels, services) come from
:func:`gateway.server.runtime.open_runtime`; this module only puts the HTTP doors on them:
the Africa's Talking callbacks, ``/metrics``, ``/healthz``, ``/readyz``, ``/status``
and the operator console at ``/console/``.
They are reached through typed ``web.AppKey`` values and closed in ``on_cleanup``;
there are no module-level singletons, so tests build as many apps as they like.
"""

from __future__ import annotations

import contextlib

import structlog
from aiohttp import web

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.africastalking.ussd_routes import ussd_routes
from gateway.africastalking.voice_dialect import VoiceOptions
from gateway.africastalking.voice_routes import VoiceSetup, voice_routes
from gateway.console.mount import mount_on_gateway
from gateway.content.recordings import RecordingLibrary
from gateway.menu.effect_port import EffectHandler
from gateway.observability.metrics import ops_routes
from gateway.server.app_keys import DROPOFF, LIVE_TREE, METRICS, RUNTIME, SETTINGS, USSD
from gateway.server.heap_freeze import keep_heap_frozen
from gateway.server.runtime import open_runtime
from gateway.server.safe_errors import error_guard, quiet_protocol_errors
from gateway.server.shutdown import GracefulShutdown
from gateway.settings import Settings
from gateway.store.port import Store
from gateway.ussd.sessions import SessionStore

log = structlog.get_logger("gateway.app")


async def create_app(
    settings: Settings,
    *,
    session_store: SessionStore | None = None,
    effects: EffectHandler | None = None,
    broadcast_worker: bool = True,
    console: bool = True,
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
    quiet_protocol_errors()
    app = web.Application(client_max_size=256 * 1024, middlewares=[error_guard])
    app[SETTINGS] = settings
    app[RUNTIME] = runtime
    app[LIVE_TREE] = runtime.live_tree
    app[USSD] = runtime.ussd
    app[DROPOFF] = runtime.dropoff
    app.router.add_routes(
        ussd_routes(runtime.ussd, settings.callback_secret, runtime.live_tree, runtime.dropoff)
    )
    app.router.add_routes(create_sms_routes(runtime.inbox, settings.callback_secret))
    app.router.add_routes(
        voice_routes(
            runtime.voice,
            settings.callback_secret,
            runtime.served.for_code,
            _voice_setup(settings, runtime.store),
            runtime.dropoff,
        )
    )
    app[METRICS] = metrics = runtime.metrics
    shutdown = GracefulShutdown()
    checks = [*runtime.readiness_checks(), shutdown.readiness_check()]
    shutdown.add("stop broadcast worker", runtime.stop_worker, timeout=5)
    if runtime.smpp is not None:
        shutdown.add("unbind SMPP", runtime.smpp.stop, timeout=10)
    app.router.add_routes(ops_routes(metrics, checks))
    app.router.add_get("/status", _status)
    if console:
        try:
            mount_on_gateway(app)
        except BaseException:
            await stack.aclose()
            raise

    keep_heap_frozen(app, runtime.ussd.observers)

    async def close(_: web.Application) -> None:
        await stack.aclose()

    # aiohttp exits the cleanup contexts (the shutdown steps) before it calls on_cleanup
    # callbacks, so the steps run while the store and the binds are still open.
    app.on_cleanup.append(close)
    app.on_shutdown.append(shutdown.on_shutdown)
    app.cleanup_ctx.append(shutdown.cleanup_ctx)
    return app


def _voice_setup(settings: Settings, store: Store) -> VoiceSetup:
    options = VoiceOptions(
        say_voice=settings.voice_say_voice,
        timeout=settings.voice_timeout,
        repeat_key=settings.voice_repeat_key,
        exit_key=settings.voice_exit_key,
        callback_url=settings.voice_callback_url.reveal(),
    )
    return VoiceSetup(
        options,
        frozenset(settings.voice_say_languages),
        RecordingLibrary(store, settings.recordings_dir),
        settings.public_url,
    )


async def _status(request: web.Request) -> web.Response:
    """What an operator's dashboard needs about this process: no numbers, no secrets."""
    runtime = request.app[RUNTIME]
    return web.json_response(
        {
            "tree": runtime.live_tree.current.id,
            "tree_version": runtime.live_tree.version,
            "content_version": runtime.live_tree.content_version,
            "serving_warning": runtime.live_tree.warning,
            # Every service (tree) of this gateway; a down one with the reason, file:line.
            "services": [
                {
                    "id": tree_id,
                    "up": tree_id not in runtime.served.down,
                    "down_reason": runtime.served.down.get(tree_id, ""),
                    "tree_version": runtime.served.live_of(tree_id).version,
                    "content_version": runtime.served.live_of(tree_id).content_version,
                    "serving_warning": runtime.served.live_of(tree_id).warning,
                }
                for tree_id in runtime.served.ids()
            ],
            "channel": runtime.channel,
            "smsc": runtime.link_status(),
            "receipts": runtime.smpp.receipt_status() if runtime.smpp is not None else [],
            "routes": runtime.smpp.route_status() if runtime.smpp is not None else [],
            "broadcast_worker": bool(runtime.tasks),
        }
    )
