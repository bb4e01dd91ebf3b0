"""Operator accounts, for admins: create, change role, reset password or second factor,
disable, enable.

Every change needs a fresh confirmation of the admin's own password and code
(:func:`~gateway.console.security.sensitive`), is audited, and (password, role,
disable) ends the account's sessions on every worker: the store deletes them in the
same transaction. An admin cannot disable or demote themselves, so the console never
loses its last way in by a slip; their own password is changed on their account page.
"""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, redirect, render, signed_in_user
from gateway.console.passwords import PasswordPolicyError, check_policy
from gateway.console.roles import Permission, Role, parse_role
from gateway.console.security import requires, sensitive
from gateway.console.service_scope import chosen_service

MAX_USERNAME = 64
# A role on one service: "account" drops the row (the account's own role applies).
SERVICE_ROLE_CHOICES = ("account", "editor", "approver", "none")


@requires(Permission.ADMIN)
async def users_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    operators = await ctx.backend.list_operators()
    enrolled = {
        operator.username
        for operator in operators
        if await ctx.backend.get_second_factor(operator.username) is not None
    }
    # Roles per service: the admin's chosen service (the header's switch).
    service = chosen_service(request)
    service_roles = {
        operator.username: (await ctx.backend.service_roles(operator.username)).get(service.key)
        for operator in operators
    }
    return render(
        request,
        "users.html",
        {
            "operators": operators,
            "roles": [r.value for r in Role],
            "enrolled": enrolled,
            "service": service,
            "service_roles": service_roles,
            "service_role_choices": SERVICE_ROLE_CHOICES,
        },
    )


def valid_username(username: str) -> bool:
    return 0 < len(username) <= MAX_USERNAME and username.isprintable() and "/" not in username


@sensitive
@requires(Permission.ADMIN)
async def create_user(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    username = str(form.get("username", "")).strip()
    password = str(form.get("password", ""))
    try:
        role = parse_role(str(form.get("role", "")))
        if not valid_username(username):
            raise ValueError("a username is 1 to 64 printable characters, without '/'")
        check_policy(password, username)
        if password != str(form.get("confirm", "")):
            raise ValueError("the two passwords differ")
        if await ctx.backend.get_operator(username) is not None:
            raise ValueError(f"{username} already exists")
    except (ValueError, PasswordPolicyError) as exc:
        return redirect(request, "/users", flash=f"Not created: {exc}")
    password_hash = await ctx.passwords.hash_async(password)
    await ctx.backend.create_operator(username, password_hash, role.value, ctx.now())
    await ctx.backend.append_audit(
        signed_in_user(request), "user_add", f"operator:{username}", {"role": role.value}, ctx.now()
    )
    return redirect(request, "/users", flash=f"{username} can now sign in as {role.value}.")


@sensitive
@requires(Permission.ADMIN)
async def change_user(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    username = request.match_info["username"]
    me = signed_in_user(request)
    form = await request.post()
    action = str(form.get("action", ""))
    if await ctx.backend.get_operator(username) is None:
        raise web.HTTPNotFound(text="no such operator")
    if username == me and action in ("disable", "role", "password", "reset_second_factor"):
        return redirect(
            request,
            "/users",
            flash="Change your own password on your account page; "
            "you cannot disable or demote yourself.",
        )
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
        elif action == "service_role":
            # On the service the admin has chosen (the header's switch).
            service = chosen_service(request)
            wanted = str(form.get("service_role", ""))
            if wanted not in SERVICE_ROLE_CHOICES:
                raise ValueError(f"unknown role {wanted!r} on a service")
            role_or_none = None if wanted == "account" else wanted
            await ctx.backend.set_service_role(username, service.key, role_or_none)
            detail = {"service": service.id, "role": wanted}
        elif action == "password":
            password = str(form.get("password", ""))
            check_policy(password, username)
            await ctx.backend.update_operator(
                username, ctx.now(), password_hash=await ctx.passwords.hash_async(password)
            )
        elif action == "reset_second_factor":
            # They enrol again at their next sign-in (admins and approvers must).
            await ctx.backend.delete_second_factor(username)
            await ctx.sessions.end_for_user(username)
        else:
            raise ValueError(f"unknown action {action!r}")
    except (ValueError, PasswordPolicyError) as exc:
        return redirect(request, "/users", flash=f"Not changed: {exc}")
    # A role on a service is that service's business (its operators see the row); every
    # other account change is about no service.
    on = chosen_service(request).key if action == "service_role" else None
    await ctx.backend.append_audit(
        me, f"user_{action}", f"operator:{username}", detail, ctx.now(), service=on
    )
    return redirect(request, "/users", flash=f"{username}: done ({action}).")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/users", users_page)
    app.router.add_post("/users", create_user)
    app.router.add_post("/users/{username}", change_user)
