"""The application factory: ``create_app(settings)`` wires every part together.

Resources (the live tree, the session store, the effect handler) are opened and
closed in ``cleanup_ctx`` and reached through typed ``web.AppKey`` values; there
are no module-level singletons, so tests build as many apps as they like.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import structlog
from aiohttp import web

from gateway.effects import EffectHandler, RecordingEffectHandler
from gateway.live_tree import LiveTree
from gateway.menu.pages import Limit
from gateway.menu.validator import load_valid_tree
from gateway.privacy import PhoneHasher
from gateway.sessions import MemorySessionStore, RedisSessionStore, SessionStore
from gateway.settings import Settings
from gateway.ussd.dropoff import MemoryDropOffCounter, SessionEndRecorder
from gateway.ussd.service import ServiceOptions, USSDService
from gateway.web.ussd_routes import ussd_routes

log = structlog.get_logger("gateway.app")

SETTINGS = web.AppKey("settings", Settings)
LIVE_TREE = web.AppKey("live_tree", LiveTree)
SESSION_STORE = web.AppKey("session_store", SessionStore)
EFFECTS = web.AppKey("effects", EffectHandler)
USSD = web.AppKey("ussd_service", USSDService)
DROPOFF = web.AppKey("dropoff", SessionEndRecorder)


def tree_file(settings: Settings) -> Path:
    """``GATEWAY_MENUS`` may name a file, or a folder holding exactly one tree."""
    if settings.menus.is_file():
        return settings.menus
    trees = sorted(settings.menus.glob("*.yaml"))
    if len(trees) != 1:
        raise FileNotFoundError(f"expected one *.yaml tree in {settings.menus}, found {len(trees)}")
    return trees[0]


def create_app(
    settings: Settings,
    *,
    session_store: SessionStore | None = None,
    effects: EffectHandler | None = None,
) -> web.Application:
    """Build the gateway. Raises :class:`gateway.menu.loader.TreeError` for a bad tree:
    a tree that fails validation never goes live."""
    limit = Limit(settings.screen_limit)
    live = LiveTree(load_valid_tree(tree_file(settings), settings.content, limit))
    hasher = PhoneHasher(settings.hash_key)
    app = web.Application(client_max_size=64 * 1024)
    app[SETTINGS] = settings
    app[LIVE_TREE] = live
    app[DROPOFF] = MemoryDropOffCounter()

    store: SessionStore
    if session_store is not None:
        store = session_store
    elif settings.redis_url:
        store = RedisSessionStore.from_url(settings.redis_url)
    else:
        store = MemorySessionStore()
    app[SESSION_STORE] = store
    app[EFFECTS] = effects or RecordingEffectHandler()
    app[USSD] = USSDService(
        live,
        store,
        hasher,
        app[EFFECTS],
        ServiceOptions(limit, settings.session_ttl, settings.resume_window),
    )
    app.router.add_routes(ussd_routes(app[USSD], settings.callback_secret, live, app[DROPOFF]))

    async def sessions_ctx(app: web.Application) -> AsyncIterator[None]:
        log.info("gateway.sessions", store=type(store).__name__, tree=live.current.id)
        yield
        await store.close()

    app.cleanup_ctx.append(sessions_ctx)
    app.router.add_get("/healthz", _healthz)
    return app


async def _healthz(request: web.Request) -> web.Response:
    return web.json_response({"status": "ok", "tree": request.app[LIVE_TREE].current.id})
