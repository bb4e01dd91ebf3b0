"""The operator console: an aiohttp sub-app mounted at ``/console/``.

Server-rendered pages (jinja2, autoescaped), one small stylesheet and one small
script served by the app itself, nothing from elsewhere. Every page reads without
JavaScript; the script adds the live character budget, the alert progress bar and
the phone simulator's keypad.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from urllib.parse import quote

import jinja2
from aiohttp import web

from gateway.broadcast.alert_service import AlertService
from gateway.console.context import CONTEXT, STATIC_RESOURCE, ConsoleContext
from gateway.console.operator_sessions import SessionStore
from gateway.console.passwords import Passwords
from gateway.console.ports import ConsoleHooks
from gateway.console.progress import ProgressSampler
from gateway.console.security import guard
from gateway.console.sign_in_gate import SignInGate
from gateway.settings import Settings
from gateway.store.port import Store

HERE = Path(__file__).resolve().parent
DEFAULT_BASE = "/console"
# What the upload forms advertise (YAML import, CSV of hotlines): the gateway's own
# limit for callbacks is far smaller, so the console's routes set this one.
UPLOAD_LIMIT = 2 * 1024 * 1024


def console_keys(settings: Settings) -> dict[str, bytes]:
    """Keys for the console's purposes, each derived from ``GATEWAY_CONSOLE_KEY`` (so one
    secret to keep; none of them can be computed from another)."""
    root = settings.console_key.reveal_bytes()
    if not root:
        # Settings built by hand without a key (tests): a key for this process only.
        root = secrets.token_bytes(32)
    return {
        label: hmac.new(root, label.encode(), hashlib.sha256).digest()
        for label in ("csrf", "seal", "recovery")
    }


def template_environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=jinja2.select_autoescape(("html", "svg")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["when"] = _format_time
    # A value placed in a URL path (a username in a form action): every reserved
    # character escaped, "/" included.
    environment.filters["segment"] = lambda value: quote(str(value), safe="")
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
) -> web.Application:
    """Build the console sub-app; mount it with ``app.add_subapp(base + "/", console)``.

    ``backend`` is the store and ``alert_service`` the runtime's alert service (both from
    :func:`gateway.server.runtime.open_runtime` in the gateway); ``hooks`` are the
    running gateway's (:class:`gateway.console.ports.ConsoleHooks`: publish, content,
    link and channel states).
    """
    from gateway.console import service_scope
    from gateway.console.views import (
        account,
        alerts,
        audit,
        auth,
        content_pages,
        dashboard,
        menus,
        recording_pages,
        users,
    )

    app = web.Application(middlewares=[guard], client_max_size=UPLOAD_LIMIT)
    keys = console_keys(settings)
    app[CONTEXT] = ConsoleContext(
        settings=settings,
        backend=backend,
        base=base.rstrip("/"),
        templates=template_environment(),
        sessions=SessionStore(
            backend,
            keys["csrf"],
            settings.console_idle_timeout,
            settings.console_absolute_timeout,
        ),
        throttle=SignInGate(backend),
        passwords=passwords or Passwords(),
        alerts=alert_service,
        hooks=hooks or ConsoleHooks(),
        seal_key=base64.urlsafe_b64encode(keys["seal"]).decode(),
        recovery_key=keys["recovery"],
        upload_limit=UPLOAD_LIMIT,
        clock=clock,
    )
    app.router.add_static("/static/", HERE / "static", name=STATIC_RESOURCE)
    auth.add_routes(app)
    account.add_routes(app)
    dashboard.add_routes(app)
    menus.add_routes(app)
    audit.add_routes(app)
    alerts.add_routes(app)
    content_pages.add_routes(app)
    recording_pages.add_routes(app)
    users.add_routes(app)
    service_scope.add_routes(app)
    app.cleanup_ctx.append(_progress_sampling)
    return app
