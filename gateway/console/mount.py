"""Mounting the console on the gateway's app, wired to the live tree: one call.

``mount_on_gateway(app)`` (on the app from ``await create_app(settings)``), or
``mount_console(app, settings, store, live)``, adds the sub-app at ``/console/`` with
the hooks that make a publish (or a content change) take effect on the running
gateway, and a redirect from ``/console`` to ``/console/``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web

from gateway.broadcast.alert_service import AlertService
from gateway.console.console_app import create_console_app
from gateway.console.ports import (
    ChannelStates,
    ConsoleHooks,
    LinkStates,
    RouteStates,
    ServiceInfo,
)
from gateway.console.publish_hook import publish_to
from gateway.menu.pages import Limit
from gateway.server.app_keys import RUNTIME, SETTINGS
from gateway.server.live_tree import LiveTree, ServedTrees
from gateway.server.published import (
    PublishedFollower,
    ServiceFollowers,
    following,
    read_seed,
)
from gateway.settings import Settings
from gateway.store.port import Store

PREFIX = "/console"


def mount_console(
    app: web.Application,
    settings: Settings,
    store: Store,
    live: LiveTree,
    alerts: AlertService,
    link_states: LinkStates | None = None,
    channel_states: ChannelStates | None = None,
    follower: PublishedFollower | None = None,
    route_states: RouteStates | None = None,
    services: Callable[[], Sequence[ServiceInfo]] | None = None,
    followers: ServiceFollowers | None = None,
    warnings: Callable[[], Sequence[str]] | None = None,
) -> web.Application:
    """Without ``follower`` (a console mounted beside a live tree of its own), the console
    starts one that polls the store; the gateway's runtime passes its own."""
    own = follower is None
    if follower is None:
        follower = PublishedFollower(
            settings, store, live, read_seed(settings, Limit(settings.screen_limit))
        )
    running: PublishedFollower = follower
    every = followers or ServiceFollowers.of(follower)

    def serving_warning() -> str:
        return " ".join(w for w in (live.warning, *(warnings() if warnings else ())) if w)

    console = create_console_app(
        settings,
        store,
        alerts,
        base=PREFIX,
        hooks=ConsoleHooks(
            publish=publish_to(every),
            content_changed=every.content_changed,
            link_states=link_states,
            channel_states=channel_states,
            route_states=route_states,
            serving_warning=serving_warning,
            country_aliases=lambda: running.seed.country_aliases,
            services=services,
        ),
    )

    async def to_console(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(PREFIX + "/")

    # Registered before the sub-app, whose prefix would otherwise also take "/console".
    app.router.add_get(PREFIX, to_console)
    app.add_subapp(PREFIX + "/", console)

    if own:

        async def follow_published(_: web.Application) -> AsyncIterator[None]:
            await follower.refresh()
            async with following(follower):
                yield

        app.cleanup_ctx.append(follow_published)
    return console


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
        follower=runtime.follower,
        route_states=lambda: runtime.smpp.route_status() if runtime.smpp is not None else [],
        services=lambda: service_infos(runtime.served),
        followers=runtime.followers,
        warnings=lambda: [other.warning for other in runtime.served.others.values()],
    )


def service_infos(served: ServedTrees) -> list[ServiceInfo]:
    """The gateway's services as the console shows them, the default first."""
    return [
        ServiceInfo(
            id=tree_id,
            key=served.services.key_of(tree_id),
            codes=served.codes(tree_id),
            down=served.down.get(tree_id, ""),
            menu=served.files[tree_id].stem if tree_id in served.files else tree_id,
            content=served.content.get(tree_id, ""),
        )
        for tree_id in served.ids()
    ]
