"""Operator accounts, for admins: create, change role, reset password, disable, enable.

Every change is audited and ends the account's open sessions. An admin cannot
disable or demote themselves, so the console never loses its last way in by a slip.
"""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, redirect, render, signed_in_user
from gateway.console.passwords import PasswordPolicyError, check_policy
from gateway.console.roles import Permission, Role, parse_role
from gateway.console.security import requires


@requires(Permission.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    operators = await context(request).backend.list_operators()
    return render(request, "users.html", {"operators": operators, "roles": [r.value for r in Role]})


@requires(Permission.ADMIN)
async def create_user(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    try:
        role = parse_role(str(form.get("role", "")))
        if not username or len(username) > 64 or not username.isprintable():
            raise ValueError("a username is 1 to 64 printable characters")
        check_policy(password, username)
        if password != str(form.get("confirm", "")):
            raise ValueError("the two passwords differ")
        if await ctx.backend.get_operator(username) is not None:
            raise ValueError(f"{username} already exists")
    except (ValueError, PasswordPolicyError) as exc:
        return redirect(request, "/users", flash=f"Not created: {exc}")
    await ctx.backend.create_operator(username, ctx.passwords.hash(password), role.value, ctx.now())
    await ctx.backend.append_audit(
        signed_in_user(request), "user_add", f"operator:{username}", {"role": role.value}, ctx.now()
    )
    return redirect(request, "/users", flash=f"{username} can now sign in as {role.value}.")


@requires(Permission.ADMIN)
async def change_user(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    username = request.match_info["username"]
    me = signed_in_user(request)
    form = await request.post()
    action = str(form.get("action", ""))
    if await ctx.backend.get_operator(username) is None:
        raise web.HTTPNotFound(text="no such operator")
    if username == me and action in ("disable", "role"):
        return redirect(request, "/users", flash="You cannot disable or demote yourself.")
    detail: dict[str, str] = {}
    try:
        if action == "disable":
            await ctx.backend.update_operator(username, ctx.now(), disabled=True)
        elif action == "enable":
            await ctx.backend.update_operator(username, ctx.now(), disabled=False)
        elif action == "role":
            role = parse_role(str(form.get("role", "")))
            await ctx.backend.update_operator(username, ctx.now(), role=role.value)
            detail = {"role": role.value}
        elif action == "password":
            password = str(form.get("password", ""))
            check_policy(password, username)
            await ctx.backend.update_operator(
                username, ctx.now(), password_hash=ctx.passwords.hash(password)
            )
        else:
            raise ValueError(f"unknown action {action!r}")
    except (ValueError, PasswordPolicyError) as exc:
        return redirect(request, "/users", flash=f"Not changed: {exc}")
    if username != me:
        ctx.sessions.end_for_user(username)
    await ctx.backend.append_audit(me, f"user_{action}", f"operator:{username}", detail, ctx.now())
    return redirect(request, "/users", flash=f"{username}: done ({action}).")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", create_user)
    app.router.add_post("/users/{username}", change_user)
