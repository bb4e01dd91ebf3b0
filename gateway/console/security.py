"""The console's request guard: session, CSRF, sign-in, role, and safe headers.

One middleware, in this order:
1. look up the session named by the cookie (expired or unknown = none);
2. for every state-changing request, demand the session's CSRF token (a form field
   ``csrf_token`` or the ``X-CSRF-Token`` header), else 403 -- a synchronizer token
   bound to the session, compared in constant time;
3. pages other than the login page and static files need a signed-in session (else a
   redirect to the login page) and the permission the handler declares (else 403);
4. every response gets cookie flags (HttpOnly, SameSite=Strict, Secure over TLS) and
   headers that keep the pages out of caches and frames.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote

from aiohttp import web

from gateway.console.context import (
    NEW_COOKIE,
    SESSION,
    SESSION_COOKIE,
    STATIC_RESOURCE,
    ConsoleContext,
    context,
    ensure_session,
)
from gateway.console.operator_sessions import ConsoleSession
from gateway.console.roles import Permission, allows

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
H = TypeVar("H", bound=Handler)

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def public(handler: H) -> H:
    """Mark a handler as reachable without signing in (the login page)."""
    handler.console_public = True  # type: ignore[attr-defined]
    return handler


def requires(permission: Permission) -> Callable[[H], H]:
    """Declare the permission a handler needs; handlers without one need VIEW."""

    def mark(handler: H) -> H:
        handler.console_permission = permission  # type: ignore[attr-defined]
        return handler

    return mark


def _route_handler(request: web.Request) -> Any:
    return request.match_info.route.handler


def _is_static(request: web.Request) -> bool:
    resource = request.match_info.route.resource
    return resource is not None and resource.name == STATIC_RESOURCE


async def _csrf_ok(request: web.Request, session: ConsoleSession | None) -> bool:
    if session is None:
        return False
    sent = request.headers.get(CSRF_HEADER)
    if sent is None:
        try:
            form = await request.post()
        except ValueError:
            return False
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    if not sent:
        return False
    return hmac.compare_digest(sent.encode(), session.csrf_token.encode())


def secure_cookies(ctx: ConsoleContext, request: web.Request) -> bool:
    return ctx.settings.console_secure_cookies or request.secure


def _set_cookie(ctx: ConsoleContext, request: web.Request, response: web.StreamResponse) -> None:
    session: ConsoleSession | None = request.get(NEW_COOKIE)
    if session is None:
        return
    response.set_cookie(
        SESSION_COOKIE,
        session.id,
        path=ctx.base + "/",
        httponly=True,
        secure=secure_cookies(ctx, request),
        samesite="Strict",
    )


def _harden(response: web.StreamResponse, static: bool) -> None:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    if static:
        headers.setdefault("Cache-Control", "public, max-age=3600")
    else:
        headers["Cache-Control"] = "no-store"


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    cookie = request.cookies.get(SESSION_COOKIE)
    session = ctx.sessions.get(cookie, now) if cookie else None
    request[SESSION] = session
    static = _is_static(request)
    try:
        response = await _guarded(request, handler, ctx, session, cookie, static)
    except web.HTTPException as exc:
        _set_cookie(ctx, request, exc)
        _harden(exc, static=False)
        raise
    _set_cookie(ctx, request, response)
    _harden(response, static)
    return response


async def _guarded(
    request: web.Request,
    handler: Handler,
    ctx: ConsoleContext,
    session: ConsoleSession | None,
    cookie: str | None,
    static: bool,
) -> web.StreamResponse:
    if static or request.match_info.http_exception is not None:
        return await handler(request)
    if request.method not in SAFE_METHODS and not await _csrf_ok(request, session):
        return web.Response(
            status=403,
            text="This form has expired or did not come from the console. "
            "Go back, reload the page and try again.",
        )
    target = _route_handler(request)
    if getattr(target, "console_public", False):
        return await handler(request)
    if session is None or not session.signed_in:
        return _to_login(request, ctx, timed_out=cookie is not None)
    if not await _account_still_valid(ctx, session):
        ctx.sessions.end(session)
        request[SESSION] = None
        return _to_login(request, ctx, timed_out=True)
    permission = getattr(target, "console_permission", Permission.VIEW)
    if not allows(session.role, permission):
        return web.Response(
            status=403, text=f"Your role ({session.role}) may not do this ({permission.value})."
        )
    return await handler(request)


ACCOUNT_RECHECK_SECONDS = 30.0


async def _account_still_valid(ctx: ConsoleContext, session: ConsoleSession) -> bool:
    """An account disabled (or its role changed) from the CLI or by an admin ends its
    sessions within ``ACCOUNT_RECHECK_SECONDS``."""
    now = ctx.now()
    if now - session.checked_at < ACCOUNT_RECHECK_SECONDS:
        return True
    if session.username is None:
        return False
    account = await ctx.backend.get_operator(session.username)
    if account is None or account.disabled or account.role != session.role:
        return False
    session.checked_at = now
    return True


def _to_login(request: web.Request, ctx: ConsoleContext, timed_out: bool) -> web.Response:
    fresh = ensure_session(request)
    if timed_out:
        fresh.flash("Your session has ended. Please sign in again.")
    target = request.path_qs if request.method in SAFE_METHODS else ctx.base + "/"
    return web.Response(
        status=303, headers={"Location": f"{ctx.base}/login?next={quote(target, safe='')}"}
    )
