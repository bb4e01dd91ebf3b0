"""Mounting the console on the gateway's app, wired to the live tree: one call.

``mount_on_gateway(app)`` (on the app from ``await create_app(settings)``), or
``mount_console(app, settings, store, live)``, adds the sub-app at ``/console/`` with
the hooks that make a publish (or a content change) take effect on the running
gateway, and a redirect from ``/console`` to ``/console/``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterable, Mapping
from pathlib import Path
from typing import Any

import structlog
from aiohttp import web

from gateway.broadcast.alert_service import AlertService
from gateway.console.console_app import create_console_app
from gateway.console.ports import ChannelStates, ConsoleHooks, LinkStates
from gateway.console.publish_hook import publish_to, reload_content_into
from gateway.menu.loader import TreeError
from gateway.server.app_keys import RUNTIME, SETTINGS
from gateway.server.live_tree import LiveTree
from gateway.settings import Settings
from gateway.store.port import Store

PREFIX = "/console"
PUBLISH_POLL_SECONDS = 10.0
log = structlog.get_logger(__name__)


def mount_console(
    app: web.Application,
    settings: Settings,
    store: Store,
    live: LiveTree,
    alerts: AlertService,
    link_states: LinkStates | None = None,
    channel_states: ChannelStates | None = None,
) -> web.Application:
    console = create_console_app(
        settings,
        store,
        alerts,
        base=PREFIX,
        hooks=ConsoleHooks(
            publish=publish_to(live, settings),
            content_changed=reload_content_into(live, settings),
            link_states=link_states,
            channel_states=channel_states,
        ),
    )

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    # Registered before the sub-app, whose prefix would otherwise also take "/console".
    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX + "/", console)

    async def follow_published(_: web.Application) -> AsyncIterator[None]:
        await serve_published_version(settings, store, live)
        task = asyncio.create_task(_poll_published(settings, store, live))
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    app.cleanup_ctx.append(follow_published)
    return console


async def _poll_published(settings: Settings, store: Store, live: LiveTree) -> None:
    """Several gateway processes share one store: a publish made through one of them
    reaches the others within ``interval`` seconds, without a restart."""
    while True:
        await asyncio.sleep(PUBLISH_POLL_SECONDS)
        try:
            await serve_published_version(settings, store, live)
        except Exception as exc:  # the store away for a moment: try again next round
            log.warning("console.publish_poll_failed", error=type(exc).__name__)


async def serve_published_version(settings: Settings, store: Store, live: LiveTree) -> None:
    """At start-up, serve the version last published in the console rather than the
    shipped file, so a restart does not undo a publish. A version that no longer
    validates (a content file changed under it) is logged and the file is kept."""
    name = Path(live.current.source).stem if live.current.source else live.current.id
    published = await store.published_menu(name)
    if published is None or live.version == f"v{published.id}":
        return
    try:
        await publish_to(live, settings)(name, published.tree_yaml, published.id)
    except TreeError as exc:
        log.warning(
            "console.published_version_invalid",
            menu=name,
            version=published.id,
            problems=len(exc.problems),
        )


def link_states_of(binds: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The SMPP pool's per-bind status as the dashboard shows it: bound, or its state."""
    states = {}
    for bind in binds:
        name = f"{bind.get('smsc', '?')} #{bind.get('bind', 0)} ({bind.get('mode', '')})"
        states[name] = "bound" if bind.get("bound") else str(bind.get("state", "down"))
    return states


def mount_on_gateway(app: web.Application) -> web.Application:
    """Mount the console on the app built by :func:`gateway.server.app.create_app`, using
    its runtime's store, live tree and SMPP link status."""

    runtime = app[RUNTIME]
    return mount_console(
        app,
        app[SETTINGS],
        runtime.store,
        runtime.live_tree,
        runtime.messaging.alerts,
        link_states=lambda: link_states_of(runtime.link_status()),
        channel_states=runtime.channel_statuses,
    )
