"""The operator's own account: change their password, see their active sessions, and
sign out everywhere else. Every role has it."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, current_session, redirect, render, use_session
from gateway.console.operator_sessions import SIGNED_IN
from gateway.console.passwords import PasswordPolicyError, check_policy
from gateway.console.security import sensitive


async def account_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = current_session(request)
    assert session is not None and session.username is not None
    sessions = await ctx.sessions.of_user(session.username, ctx.now())
    factor = await ctx.backend.get_second_factor(session.username)
    return render(
        request,
        "account.html",
        {
            "sessions": sessions,
            "this_session": session.id_hash,
            "factor": factor,
            "recovery_left": len(factor.recovery_hashes) if factor else 0,
        },
    )


@sensitive
async def change_password(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = current_session(request)
    assert session is not None and session.username is not None and session.role is not None
    form = await request.post()
    account = await ctx.backend.get_operator(session.username)
    current = str(form.get("current", ""))
    new = str(form.get("password", ""))
    if account is None or not await ctx.passwords.verify_async(account.password_hash, current):
        return redirect(request, "/account", flash="Not changed: your current password is wrong.")
    try:
        check_policy(new, session.username)
        if new != str(form.get("confirm", "")):
            raise ValueError("the two passwords differ")
    except (ValueError, PasswordPolicyError) as exc:
        return redirect(request, "/account", flash=f"Not changed: {exc}")
    now = ctx.now()
    # The store ends every session of the account, this one included; this browser
    # gets a fresh one, everyone else (a thief with an old cookie) is signed out.
    await ctx.backend.update_operator(
        session.username, now, password_hash=await ctx.passwords.hash_async(new)
    )
    fresh = await ctx.sessions.start(
        None, session.username, session.role, SIGNED_IN, now, authenticated_at=now
    )
    use_session(request, fresh)
    await ctx.backend.append_audit(
        session.username, "password_changed", f"operator:{session.username}", {}, now
    )
    return redirect(request, "/account", flash="Password changed. Your other sessions ended.")


async def end_other_sessions(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    session = current_session(request)
    assert session is not None and session.username is not None
    ended = await ctx.sessions.end_for_user(session.username, keep=session)
    await ctx.backend.append_audit(
        session.username,
        "sessions_ended",
        f"operator:{session.username}",
        {"count": ended},
        ctx.now(),
    )
    return redirect(request, "/account", flash=f"Signed out everywhere else ({ended} sessions).")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/account", account_page)
    app.router.add_post("/account/password", change_password)
    app.router.add_post("/account/sessions/end", end_other_sessions)
