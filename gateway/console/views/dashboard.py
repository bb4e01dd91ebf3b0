"""The dashboard: traffic, drop-off, subscribers, SMSC links and stale content."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, render


async def dashboard(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    link_states = ctx.extras.get("link_states")
    links = dict(link_states()) if link_states else {}
    return render(request, "dashboard.html", {"links": links})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", dashboard, name="dashboard")
