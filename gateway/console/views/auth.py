"""Sign in and sign out."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import (
    context,
    current_session,
    ensure_session,
    redirect,
    render,
    use_session,
)
from gateway.console.security import public

LOGIN_REFUSED = "Wrong username or password."
THROTTLED = (
    "Too many failed sign-in attempts. Wait {minutes} minutes and try again, "
    "or ask an administrator to check your account."
)


def _safe_next(base: str, value: str | None) -> str:
    """Only paths inside the console: never an open redirect to another site."""
    if value and value.startswith(base + "/") and not value.startswith("//"):
        return value
    return base + "/"


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    session = ensure_session(request)
    ctx = context(request)
    if session.signed_in:
        return web.Response(status=303, headers={"Location": ctx.base + "/"})
    return render(request, "login.html", {"next": request.query.get("next", "")})


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    next_path = _safe_next(ctx.base, str(form.get("next", "")))
    keys = (f"user:{username.lower()}", f"addr:{request.remote or '?'}")
    audit = ctx.backend
    if ctx.throttle.blocked(keys, now):
        minutes = max(1, round(ctx.throttle.retry_after(keys, now) / 60))
        await audit.append_audit(username or "-", "login_throttled", "console", {}, now)
        return render(
            request,
            "login.html",
            {"error": THROTTLED.format(minutes=minutes), "username": username, "next": next_path},
            status=429,
        )
    account = await ctx.backend.get_operator(username) if username else None
    valid = ctx.passwords.verify(account.password_hash if account else None, password)
    if account is None or not valid or account.disabled:
        ctx.throttle.record_failure(keys, now)
        await audit.append_audit(username or "-", "login_failed", "console", {}, now)
        return render(
            request,
            "login.html",
            {"error": LOGIN_REFUSED, "username": username, "next": next_path},
            status=401,
        )
    ctx.throttle.clear(keys[0])
    if ctx.passwords.needs_rehash(account.password_hash):
        await ctx.backend.update_operator(
            account.username, now, password_hash=ctx.passwords.hash(password)
        )
    fresh = ctx.sessions.sign_in(current_session(request), account.username, account.role, now)
    fresh.checked_at = now
    use_session(request, fresh)
    await audit.append_audit(account.username, "login", "console", {"role": account.role}, now)
    return web.Response(status=303, headers={"Location": next_path})


async def logout(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = current_session(request)
    if session is not None:
        await ctx.backend.append_audit(session.username or "-", "logout", "console", {}, ctx.now())
        ctx.sessions.end(session)
    use_session(request, ctx.sessions.new(ctx.now()))
    return redirect(request, "/login", flash="You are signed out.")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_post("/logout", logout, name="logout")
