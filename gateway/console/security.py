"""The console's request guard: session, CSRF, sign-in, role, and safe headers.

One middleware, in this order:
1. look up the session named by the cookie (expired or unknown = none);
2. for every state-changing request, demand the session's CSRF token (a form field
   ``csrf_token`` or the ``X-CSRF-Token`` header), else 403 -- a synchronizer token
   bound to the session, compared in constant time;
3. pages other than the login page and static files need a signed-in session (else a
   redirect to the login page) and the permission the handler declares (else 403);
4. handlers marked :func:`sensitive` (approve, publish, send, account changes) need
   the operator to have given their password (and second factor) within
   ``REAUTH_SECONDS``, else they are sent to confirm it first;
5. every response gets cookie flags (HttpOnly, SameSite=Strict, Secure over TLS, the
   ``__Host-`` name prefix then) and headers that keep the pages out of caches and
   frames; the session's changes are written back to the store.

Sessions live in the store (:mod:`gateway.console.operator_sessions`), so whatever
ended a session on one worker ends it on all of them at the next request.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

from aiohttp import web

from gateway.console.context import (
    NEW_COOKIE,
    SESSION,
    STATIC_RESOURCE,
    ConsoleContext,
    address_of,
    context,
    cookie_name,
    ensure_session,
)
from gateway.console.operator_sessions import ENROL, SECOND_FACTOR, ConsoleSession
from gateway.console.roles import Permission, allows
from gateway.console.service_scope import resolve_scope

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


REAUTH_SECONDS = 300.0


def sensitive(handler: H) -> H:
    """Mark a handler that needs a fresh password (and second factor): approve,
    publish, send, account changes."""
    handler.console_sensitive = True  # type: ignore[attr-defined]
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
        except web.HTTPException:
            raise
        except Exception:  # unknown charset, broken multipart, bytes that are not UTF-8
            raise web.HTTPBadRequest(text="This form could not be read.") from None
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
    secure = secure_cookies(ctx, request)
    response.set_cookie(
        cookie_name(ctx, request),
        session.id,
        # __Host- cookies must have path "/"; plain ones stay on the console's path.
        path="/" if secure else ctx.base + "/",
        httponly=True,
        secure=secure,
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
    # Requests are built by the root app with its own (callback-sized) body limit; the
    # console's forms advertise larger uploads, so its requests carry the console's.
    request = request.clone(client_max_size=ctx.upload_limit)
    now = ctx.now()
    static = _is_static(request)
    cookie = None if static else request.cookies.get(cookie_name(ctx, request))
    session, ended = await ctx.sessions.get(cookie, now) if cookie else (None, False)
    if session is not None and not session.persistent:
        session.address = address_of(request)
        session.user_agent = request.headers.get("User-Agent", "")[:200]
    request[SESSION] = session
    try:
        response = await _guarded(request, handler, ctx, session, ended, static)
    except web.HTTPException as exc:
        await _save_session(ctx, request)
        _set_cookie(ctx, request, exc)
        _harden(exc, static=False)
        raise
    await _save_session(ctx, request)
    _set_cookie(ctx, request, response)
    _harden(response, static)
    return response


async def _save_session(ctx: ConsoleContext, request: web.Request) -> None:
    session: ConsoleSession | None = request.get(SESSION)
    if session is not None:
        await ctx.sessions.save(session, ctx.now())


async def _guarded(
    request: web.Request,
    handler: Handler,
    ctx: ConsoleContext,
    session: ConsoleSession | None,
    ended: bool,
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
        if session is not None and session.stage in (SECOND_FACTOR, ENROL):
            return web.Response(status=303, headers={"Location": f"{ctx.base}/login"})
        return _to_login(request, ctx, timed_out=ended or cookie_sent(request, ctx))
    scope = await resolve_scope(request, session)
    if isinstance(scope, web.Response):
        return scope  # no service of theirs, or another service's object: 403
    permission = getattr(target, "console_permission", Permission.VIEW)
    if not allows(scope.role, permission):
        return web.Response(
            status=403,
            text=f"Your role on {scope.service.id} ({scope.role}) may not do this "
            f"({permission.value}).",
        )
    if getattr(target, "console_sensitive", False) and (
        ctx.now() - session.authenticated_at > REAUTH_SECONDS
    ):
        raise _to_reauth(request, ctx)
    return await handler(request)


def cookie_sent(request: web.Request, ctx: ConsoleContext) -> bool:
    return cookie_name(ctx, request) in request.cookies


def require_fresh_auth(request: web.Request) -> None:
    """For a handler where only some actions are sensitive (approve and send, not
    pause): send the operator to confirm it is them unless they did so lately."""
    ctx = context(request)
    session: ConsoleSession | None = request.get(SESSION)
    if session is None or ctx.now() - session.authenticated_at > REAUTH_SECONDS:
        raise _to_reauth(request, ctx)


def _to_reauth(request: web.Request, ctx: ConsoleContext) -> web.HTTPSeeOther:
    session = ensure_session(request)
    session.flash("Please confirm it is you, then do it again.")
    referer = request.headers.get("Referer", "")
    back = urlsplit(referer).path if referer else ""
    if not back.startswith(ctx.base + "/") or not back.isprintable():
        back = ctx.base + "/"
    return web.HTTPSeeOther(f"{ctx.base}/reauth?next={quote(back, safe='')}")


def _to_login(request: web.Request, ctx: ConsoleContext, timed_out: bool) -> web.Response:
    fresh = ensure_session(request)
    if timed_out:
        fresh.flash("Your session has ended. Please sign in again.")
    target = request.path_qs if request.method in SAFE_METHODS else ctx.base + "/"
    return web.Response(
        status=303, headers={"Location": f"{ctx.base}/login?next={quote(target, safe='')}"}
    )
