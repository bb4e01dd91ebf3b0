"""Sign in (password, then the second factor or its enrolment), confirm it is you
(re-authentication before sensitive actions), and sign out.

Every attempt, at each step, is counted by the throttle *before* the secret is checked
(see :mod:`gateway.console.sign_in_throttle`); passwords are checked in a thread pool,
off the event loop. A name typed by somebody not signed in goes into the audit log
cut short and marked ``claimed:``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import structlog
from aiohttp import web
from markupsafe import Markup

from gateway.console import second_factor
from gateway.console.context import (
    ConsoleContext,
    address_of,
    claimed_name,
    context,
    current_session,
    ensure_session,
    redirect,
    render,
    use_session,
)
from gateway.console.operator_sessions import ENROL, SECOND_FACTOR, SIGNED_IN, ConsoleSession
from gateway.console.security import REAUTH_SECONDS, public
from gateway.console.sign_in_throttle import Attempt, SignInKeys

LOGIN_REFUSED = "Wrong username or password."
CODE_REFUSED = "That code did not work. Type the 6 digits your app shows now, or a recovery code."
THROTTLED = (
    "Too many attempts from here. Wait {wait} and try again; "
    "an administrator can check your account meanwhile."
)
MAX_USERNAME = 64
log = structlog.get_logger(__name__)


def _safe_next(base: str, value: str | None) -> str:
    """Only paths inside the console: never an open redirect to another site, and never
    a control character (a CR/LF would split the Location header)."""
    if (
        value
        and value.startswith(base + "/")
        and not value.startswith("//")
        and value.isprintable()
        and "\\" not in value
    ):
        return value
    return base + "/"


def _wait_text(seconds: float) -> str:
    if seconds < 90:
        return f"{max(1, math.ceil(seconds))} seconds"
    return f"{math.ceil(seconds / 60)} minutes"


def _throttled(
    request: web.Request, template: str, attempt: Attempt, values: Mapping[str, object]
) -> web.Response:
    log.info("console.sign_in_throttled", retry_after=round(attempt.retry_after))
    response = render(
        request,
        template,
        {**values, "error": THROTTLED.format(wait=_wait_text(attempt.retry_after))},
        status=429,
    )
    response.headers["Retry-After"] = str(max(1, math.ceil(attempt.retry_after)))
    return response


@public
async def login_page(request: web.Request) -> web.StreamResponse:
    session = ensure_session(request)
    ctx = context(request)
    if session.signed_in:
        return web.Response(status=303, headers={"Location": ctx.base + "/"})
    nxt = request.query.get("next", "")
    return render(request, "login.html", {"next": nxt if nxt.isprintable() else ""})


@public
async def login_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    form = await request.post()
    username = str(form.get("username", "")).strip()[: MAX_USERNAME + 1]
    password = str(form.get("password", ""))
    next_path = _safe_next(ctx.base, str(form.get("next", "")))
    address = address_of(request)
    keys = SignInKeys.of(username, address)
    values = {"username": username[:MAX_USERNAME], "next": next_path}
    attempt = await ctx.throttle.take(keys, now)
    if not attempt.allowed:
        return _throttled(request, "login.html", attempt, values)
    account = await ctx.backend.get_operator(username) if 0 < len(username) <= 64 else None
    valid = await ctx.passwords.verify_async(account.password_hash if account else None, password)
    if account is None or not valid or account.disabled:
        await ctx.backend.append_audit(
            claimed_name(username), "login_failed", "console", {"address": address}, now
        )
        return render(request, "login.html", {**values, "error": LOGIN_REFUSED}, status=401)
    if ctx.passwords.needs_rehash(account.password_hash):
        await ctx.backend.update_operator(
            account.username, now, password_hash=await ctx.passwords.hash_async(password)
        )
    previous = current_session(request)
    factor = await ctx.backend.get_second_factor(account.username)
    if factor is not None:
        pending = await ctx.sessions.start(
            previous,
            account.username,
            account.role,
            SECOND_FACTOR,
            now,
            pending={"next": next_path},
        )
        use_session(request, pending)
        return web.Response(status=303, headers={"Location": ctx.base + "/login/code"})
    # An approver on any one service publishes what its callers see: a second factor too.
    service_roles = (await ctx.backend.service_roles(account.username)).values()
    if second_factor.required_for(account.role) or any(
        map(second_factor.required_for, service_roles)
    ):
        secret = second_factor.new_secret()
        pending = await ctx.sessions.start(
            previous,
            account.username,
            account.role,
            ENROL,
            now,
            pending={"next": next_path, "secret": second_factor.seal(ctx.seal_key, secret)},
        )
        use_session(request, pending)
        return web.Response(status=303, headers={"Location": ctx.base + "/login/enrol"})
    await ctx.throttle.succeeded(keys)
    return await _signed_in(request, ctx, previous, account.username, account.role, next_path, "")


async def _signed_in(
    request: web.Request,
    ctx: ConsoleContext,
    previous: ConsoleSession | None,
    username: str,
    role: str,
    next_path: str,
    factor: str,
) -> web.Response:
    now = ctx.now()
    fresh = await ctx.sessions.start(previous, username, role, SIGNED_IN, now)
    use_session(request, fresh)
    detail = {"role": role, "address": address_of(request)}
    if factor:
        detail["second_factor"] = factor
    await ctx.backend.append_audit(username, "login", "console", detail, now)
    return web.Response(status=303, headers={"Location": next_path})


async def check_second_factor(ctx: ConsoleContext, username: str, code: str, now: float) -> str:
    """ "totp" or "recovery" when ``code`` is right (and unused); "" otherwise."""
    factor = await ctx.backend.get_second_factor(username)
    if factor is None:
        return ""
    secret = second_factor.unseal(ctx.seal_key, factor.totp_sealed)
    step = second_factor.matching_step(secret, code, now) if secret else None
    if step is not None:
        return "totp" if await ctx.backend.use_totp_step(username, step) else ""
    if second_factor.looks_like_recovery_code(code):
        digest = second_factor.recovery_hash(ctx.recovery_key, code)
        if await ctx.backend.use_recovery_code(username, digest):
            return "recovery"
    return ""


def _pending(request: web.Request, stage: str) -> ConsoleSession:
    session = current_session(request)
    if session is None or session.stage != stage or session.username is None:
        raise web.HTTPSeeOther(context(request).base + "/login")
    return session


@dataclass(frozen=True)
class _PostedCode:
    """A code posted at a pending sign-in stage that the throttle let through."""

    session: ConsoleSession
    username: str
    keys: SignInKeys
    code: str


async def _posted_code(
    request: web.Request,
    now: float,
    stage: str,
    template: str,
    values: Callable[[ConsoleSession], Mapping[str, object]],
) -> _PostedCode | web.Response:
    """The code posted at ``stage``, counted by the throttle; when the throttle refuses
    the attempt, ``template`` (with ``values``) saying how long to wait."""
    ctx = context(request)
    session = _pending(request, stage)
    assert session.username is not None
    keys = SignInKeys.of(session.username, address_of(request))
    attempt = await ctx.throttle.take(keys, now)
    if not attempt.allowed:
        return _throttled(request, template, attempt, values(session))
    code = str((await request.post()).get("code", ""))[:64]
    return _PostedCode(session, session.username, keys, code)


@public
async def code_page(request: web.Request) -> web.StreamResponse:
    _pending(request, SECOND_FACTOR)
    return render(request, "login_code.html", {})


@public
async def code_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    posted = await _posted_code(request, now, SECOND_FACTOR, "login_code.html", lambda _: {})
    if isinstance(posted, web.Response):
        return posted
    session = posted.session
    used = await check_second_factor(ctx, posted.username, posted.code, now)
    account = await ctx.backend.get_operator(posted.username)
    if not used or account is None or account.disabled:
        await ctx.backend.append_audit(
            posted.username,
            "second_factor_failed",
            "console",
            {"address": address_of(request)},
            now,
        )
        return render(request, "login_code.html", {"error": CODE_REFUSED}, status=401)
    await ctx.throttle.succeeded(posted.keys)
    next_path = _safe_next(ctx.base, str(session.pending.get("next", "")))
    return await _signed_in(request, ctx, session, account.username, account.role, next_path, used)


def _enrol_values(ctx: ConsoleContext, session: ConsoleSession) -> dict[str, object]:
    secret = second_factor.unseal(ctx.seal_key, str(session.pending.get("secret", ""))) or ""
    uri = second_factor.provisioning_uri(secret, session.username or "")
    grouped = " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))
    # The SVG is drawn by segno from the otpauth URI: markup we made, not user input.
    return {"qr": Markup(second_factor.qr_svg(uri)), "secret": grouped}  # noqa: S704


@public
async def enrol_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = _pending(request, ENROL)
    return render(request, "enrol.html", _enrol_values(ctx, session))


@public
async def enrol_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    posted = await _posted_code(
        request, now, ENROL, "enrol.html", lambda session: _enrol_values(ctx, session)
    )
    if isinstance(posted, web.Response):
        return posted
    session = posted.session
    secret = second_factor.unseal(ctx.seal_key, str(session.pending.get("secret", "")))
    step = second_factor.matching_step(secret, posted.code, now) if secret else None
    account = await ctx.backend.get_operator(posted.username)
    if step is None or secret is None or account is None or account.disabled:
        values = {**_enrol_values(ctx, session), "error": CODE_REFUSED}
        return render(request, "enrol.html", values, status=401)
    codes = second_factor.new_recovery_codes()
    await ctx.backend.save_second_factor(
        account.username,
        second_factor.seal(ctx.seal_key, secret),
        [second_factor.recovery_hash(ctx.recovery_key, item) for item in codes],
        now,
    )
    await ctx.backend.use_totp_step(account.username, step)
    await ctx.backend.append_audit(
        account.username, "second_factor_enrolled", f"operator:{account.username}", {}, now
    )
    await ctx.throttle.succeeded(posted.keys)
    next_path = _safe_next(ctx.base, str(session.pending.get("next", "")))
    await _signed_in(request, ctx, session, account.username, account.role, next_path, "totp")
    return render(request, "recovery_codes.html", {"codes": codes, "next": next_path})


async def reauth_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = ensure_session(request)
    factor = await ctx.backend.get_second_factor(session.username or "")
    nxt = _safe_next(ctx.base, request.query.get("next", ""))
    return render(
        request,
        "reauth.html",
        {"next": nxt, "needs_code": factor is not None, "minutes": int(REAUTH_SECONDS // 60)},
    )


async def reauth_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    now = ctx.now()
    session = ensure_session(request)
    username = session.username or ""
    form = await request.post()
    next_path = _safe_next(ctx.base, str(form.get("next", "")))
    factor = await ctx.backend.get_second_factor(username)
    values = {
        "next": next_path,
        "needs_code": factor is not None,
        "minutes": int(REAUTH_SECONDS // 60),
    }
    keys = SignInKeys.of(username, address_of(request))
    attempt = await ctx.throttle.take(keys, now)
    if not attempt.allowed:
        return _throttled(request, "reauth.html", attempt, values)
    account = await ctx.backend.get_operator(username)
    password = str(form.get("password", ""))
    valid = await ctx.passwords.verify_async(account.password_hash if account else None, password)
    used = ""
    if valid and factor is not None:
        used = await check_second_factor(ctx, username, str(form.get("code", ""))[:64], now)
    if not valid or (factor is not None and not used):
        await ctx.backend.append_audit(username, "reauth_failed", "console", {}, now)
        error = LOGIN_REFUSED if not valid else CODE_REFUSED
        return render(request, "reauth.html", {**values, "error": error}, status=401)
    await ctx.throttle.succeeded(keys)
    session.authenticated_at = now
    await ctx.backend.append_audit(username, "reauth", "console", {}, now)
    return redirect(
        request,
        next_path[len(ctx.base) :],
        flash=f"Confirmed. For {int(REAUTH_SECONDS // 60)} minutes you may approve, publish, "
        "send and change accounts.",
    )


async def logout(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = current_session(request)
    if session is not None:
        await ctx.backend.append_audit(session.username or "-", "logout", "console", {}, ctx.now())
        await ctx.sessions.end(session)
    use_session(request, ctx.sessions.new(ctx.now()))
    return redirect(request, "/login", flash="You are signed out.")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/login", login_page, name="login")
    app.router.add_post("/login", login_submit)
    app.router.add_get("/login/code", code_page)
    app.router.add_post("/login/code", code_submit)
    app.router.add_get("/login/enrol", enrol_page)
    app.router.add_post("/login/enrol", enrol_submit)
    app.router.add_get("/reauth", reauth_page)
    app.router.add_post("/reauth", reauth_submit)
    app.router.add_post("/logout", logout, name="logout")
