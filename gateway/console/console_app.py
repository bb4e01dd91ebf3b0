"""The operator console: an aiohttp sub-app mounted at ``/console/``.

Server-rendered pages (jinja2, autoescaped), one small stylesheet and one small
script served by the app itself, nothing from elsewhere. Every page reads without
JavaScript; the script adds the live character budget, the alert progress bar and
the phone simulator's keypad.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import jinja2
from aiohttp import web

from gateway.broadcast.alert_service import AlertService
from gateway.console.context import CONTEXT, STATIC_RESOURCE, ConsoleContext
from gateway.console.menu_check import CatalogCache
from gateway.console.operator_sessions import SessionStore
from gateway.console.passwords import Passwords
from gateway.console.ports import ConsoleHooks
from gateway.console.progress import ProgressSampler
from gateway.console.security import guard
from gateway.console.sign_in_throttle import LoginThrottle
from gateway.settings import Settings
from gateway.store.port import Store

HERE = Path(__file__).resolve().parent
DEFAULT_BASE = "/console"


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(("html", "svg")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _format_time
    return environment


def _format_time(value: float | None) -> str:
    if not value:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(value))


async def _progress_sampling(app: web.Application) -> AsyncIterator[None]:
    """Sample sending alerts' counts in the background, for the delivery chart."""
    ctx = app[CONTEXT]
    sampler = ProgressSampler(ctx.alerts, ctx.timelines, ctx.clock)
    task = asyncio.create_task(sampler.run())
    yield
    await sampler.stop(task)


def create_console_app(
    settings: Settings,
    backend: Store,
    alert_service: AlertService,
    *,
    hooks: ConsoleHooks | None = None,
    base: str = DEFAULT_BASE,
    clock: Callable[[], float] = time.time,
    passwords: Passwords | None = None,
    throttle: LoginThrottle | None = None,
) -> web.Application:
    """Build the console sub-app; mount it with ``app.add_subapp(base + "/", console)``.

    ``backend`` is the store and ``alert_service`` the runtime's alert service (both from
    :func:`gateway.server.runtime.open_runtime` in the gateway); ``hooks`` are the
    running gateway's (:class:`gateway.console.ports.ConsoleHooks`: publish, content,
    link and channel states).
    """
    from gateway.console.views import (
        alerts,
        audit,
        auth,
        content_pages,
        dashboard,
        menus,
        users,
    )

    app = web.Application(middlewares=[guard], client_max_size=2 * 1024 * 1024)
    app[CONTEXT] = ConsoleContext(
        settings=settings,
        backend=backend,
        base=base.rstrip("/"),
        templates=template_environment(),
        sessions=SessionStore(settings.console_idle_timeout, settings.console_absolute_timeout),
        throttle=throttle or LoginThrottle(max_failures=5, window=15 * 60),
        passwords=passwords or Passwords(),
        alerts=alert_service,
        catalogs=CatalogCache(settings.content),
        hooks=hooks or ConsoleHooks(),
        clock=clock,
    )
    app.router.add_static("/static/", HERE / "static", name=STATIC_RESOURCE)
    auth.add_routes(app)
    dashboard.add_routes(app)
    menus.add_routes(app)
    audit.add_routes(app)
    alerts.add_routes(app)
    content_pages.add_routes(app)
    users.add_routes(app)
    app.cleanup_ctx.append(_progress_sampling)
    return app
