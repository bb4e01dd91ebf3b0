"""Mounting the console on the gateway's app, wired to the live tree: one call.

``mount_console(app, settings, store, live)`` adds the sub-app at ``/console/`` with
the hooks that make a publish (or a content change) take effect on the running
gateway, and a redirect from ``/console`` to ``/console/``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.console.app import create_console_app
from gateway.console.live import publish_to, reload_content_into
from gateway.console.ports import LinkStates
from gateway.live_tree import LiveTree
from gateway.settings import Settings

PREFIX = "/console"


def mount_console(
    app: web.Application,
    settings: Settings,
    store: Any,
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
