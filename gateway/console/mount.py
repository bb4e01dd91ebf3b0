"""Mounting the console on the gateway's app, wired to the live tree: one call.

``mount_on_gateway(app)`` (on the app from ``await create_app(settings)``), or
``mount_console(app, settings, store, live)``, adds the sub-app at ``/console/`` with
the hooks that make a publish (or a content change) take effect on the running
gateway, and a redirect from ``/console`` to ``/console/``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aiohttp import web

from gateway.console.app import create_console_app
from gateway.console.live import publish_to, reload_content_into
from gateway.console.ports import LinkStates
from gateway.live_tree import LiveTree
from gateway.settings import Settings
from gateway.store.port import Store

PREFIX = "/console"


def mount_console(
    app: web.Application,
    settings: Settings,
    store: Store,
    live: LiveTree,
    link_states: LinkStates | None = None,
) -> web.Application:
    console = create_console_app(
        settings,
        store,
        base=PREFIX,
        publish_hook=publish_to(live, settings),
        content_hook=reload_content_into(live, settings),
        link_states=link_states,
    )

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    # Registered before the sub-app, whose prefix would otherwise also take "/console".
    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX + "/", console)
    return console


def link_states_of(binds: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """The SMPP pool's per-bind status as the dashboard shows it: bound, or its state."""
    states = {}
    for bind in binds:
        name = f"{bind.get('smsc', '?')} #{bind.get('bind', 0)} ({bind.get('mode', '')})"
        states[name] = "bound" if bind.get("bound") else str(bind.get("state", "down"))
    return states


def mount_on_gateway(app: web.Application) -> web.Application:
    """Mount the console on the app built by :func:`gateway.web.app.create_app`, using
    its runtime's store, live tree and SMPP link status."""
    from gateway.web.app import RUNTIME, SETTINGS

    runtime = app[RUNTIME]
    return mount_console(
        app,
        app[SETTINGS],
        runtime.store,
        runtime.live_tree,
        link_states=lambda: link_states_of(runtime.link_status()),
    )
