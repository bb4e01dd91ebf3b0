"""The console's shared state, reached from handlers through one typed app key."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import jinja2
from aiohttp import web

from gateway.broadcast.alert_service import AlertService
from gateway.console.client_address import client_address
from gateway.console.operator_sessions import ConsoleSession, SessionStore
from gateway.console.passwords import Passwords
from gateway.console.ports import ConsoleHooks, ServiceInfo
from gateway.console.progress import Timelines
from gateway.console.sign_in_gate import SignInGate
from gateway.settings import Settings
from gateway.store.port import Store

SESSION_COOKIE = "console_session"
# With Secure cookies the name carries the __Host- prefix: the browser then accepts it
# only from this host, over TLS, for path "/", so a sibling subdomain cannot plant one.
SECURE_SESSION_COOKIE = "__Host-console_session"
CLAIMED_NAME_LENGTH = 32


@dataclass
class ConsoleContext:
    settings: Settings
    backend: Store  # accounts, menu versions, alerts, audit log: all in the store
    base: str  # where the console is mounted, e.g. "/console"
    templates: jinja2.Environment
    sessions: SessionStore
    throttle: SignInGate
    passwords: Passwords
    alerts: AlertService  # the runtime's: the console builds no service of its own
    hooks: ConsoleHooks = field(default_factory=ConsoleHooks)
    timelines: Timelines = field(default_factory=Timelines)  # delivery charts, sampled
    # Derived from GATEWAY_CONSOLE_KEY (see console_app.console_keys).
    seal_key: str = field(default="", repr=False)  # Fernet key sealing TOTP secrets
    recovery_key: bytes = field(default=b"", repr=False)  # HMAC key of recovery codes
    upload_limit: int = 2 * 1024 * 1024
    clock: Callable[[], float] = time.time
    # Per-console caches other modules keep (the content source); typed where used.
    extras: dict[str, Any] = field(default_factory=dict)

    def now(self) -> float:
        return self.clock()


CONTEXT = web.AppKey("console_context", ConsoleContext)
# The request's console session; None for a request that has none.
SESSION: web.RequestKey[ConsoleSession | None] = web.RequestKey("console_session")
NEW_COOKIE = web.RequestKey("console_new_cookie", ConsoleSession)  # its cookie must be set
STATIC_RESOURCE = "console_static"


@dataclass(frozen=True)
class Scope:
    """The service a console request is about, set by gateway.console.service_scope."""

    service: ServiceInfo  # the service this request is about
    role: str  # the operator's role on it
    visible: tuple[tuple[ServiceInfo, str], ...]  # every service they may see, with role


SCOPE = web.RequestKey("console_scope", Scope)


def context(request: web.Request) -> ConsoleContext:
    return request.config_dict[CONTEXT]


def cookie_name(ctx: ConsoleContext, request: web.Request) -> str:
    secure = ctx.settings.console_secure_cookies or request.secure
    return SECURE_SESSION_COOKIE if secure else SESSION_COOKIE


def address_of(request: web.Request) -> str:
    ctx = context(request)
    return client_address(
        request.remote,
        request.headers.getall("X-Forwarded-For", []),
        ctx.settings.trusted_proxies,
    )


def claimed_name(username: str) -> str:
    """A name typed by somebody not signed in, as the audit log keeps it: cut short and
    marked, so a flood of long made-up names cannot fill the log or pass for a real
    actor."""
    printable = "".join(char if char.isprintable() else "?" for char in username)
    return "claimed:" + (printable[:CLAIMED_NAME_LENGTH] or "-")


def current_session(request: web.Request) -> ConsoleSession | None:
    session: ConsoleSession | None = request.get(SESSION)
    return session


def ensure_session(request: web.Request) -> ConsoleSession:
    """The request's session, starting an anonymous one (and its cookie) if needed."""
    session = current_session(request)
    if session is None:
        ctx = context(request)
        session = ctx.sessions.new(ctx.now())
        use_session(request, session)
    return session


def use_session(request: web.Request, session: ConsoleSession) -> None:
    """Make ``session`` the request's session and send its cookie with the response."""
    request[SESSION] = session
    request[NEW_COOKIE] = session


def signed_in_user(request: web.Request) -> str:
    session = current_session(request)
    if session is None or session.username is None:
        raise web.HTTPForbidden(text="sign in first")
    return session.username


def current_role(request: web.Request) -> str | None:
    """The operator's role on the service the request is about (else the account's)."""
    scope = request.get(SCOPE)
    if scope is not None:
        role: str = scope.role
        return role
    session = current_session(request)
    return session.role if session else None


def render(
    request: web.Request,
    template: str,
    values: Mapping[str, Any] | None = None,
    status: int = 200,
) -> web.Response:
    ctx = context(request)
    session = current_session(request)
    warning = ctx.hooks.serving_warning
    scope = request.get(SCOPE)  # once signed in
    listed = ctx.hooks.services
    services = list(listed()) if listed is not None else []
    down = [s for s in services if s.down]
    page = ctx.templates.get_template(template).render(
        serving_warning=warning() if callable(warning) else "",
        services_down=down,
        several_services=len(services) > 1,
        scope=scope,
        base=ctx.base,
        session=session,
        # Half-way through sign-in (second factor to come) nobody is signed in yet.
        user=session.username if session and session.signed_in else None,
        # The role on the service being looked at (service_scope), else the account's.
        role=(scope.role if scope is not None else session.role)
        if session and session.signed_in
        else None,
        csrf_token=session.csrf_token if session else "",
        flashes=session.take_flashes() if session else [],
        path=request.path,
        **(values or {}),
    )
    return web.Response(text=page, status=status, content_type="text/html", charset="utf-8")


def redirect(request: web.Request, where: str, flash: str = "") -> web.Response:
    """A 303 to ``where`` (a path inside the console), with an optional message."""
    if flash:
        ensure_session(request).flash(flash)
    return web.Response(status=303, headers={"Location": context(request).base + where})
