"""Which services an operator may see, which one a console request is about, and the
refusal of another service's objects.

An account's role on a service is its row in ``operator_roles`` for that service, else
the account's own role (``operators.role``); ``none`` means the service is not theirs.
Admins are global: every service, as admin. Every console request of a signed-in
operator is scoped here, in the guard, before its handler runs: the chosen service
(kept in the session, switched with ``POST /service``) must be one they may see, the
permission is checked against their role on it, and a request naming an object of
another service (a menu, an alert; content is the chosen service's own, or refused for
a service that shares the default's) is refused with 403. Handlers read the scope with
:func:`chosen_service` and :func:`service_role`.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway.console.context import SCOPE, ConsoleContext, Scope, context, current_session
from gateway.console.operator_sessions import ConsoleSession
from gateway.console.ports import DEFAULT_SERVICE, ServiceInfo
from gateway.console.roles import Role

NONE = "none"


def services_of(ctx: ConsoleContext) -> list[ServiceInfo]:
    listed = ctx.hooks.services
    found = list(listed()) if listed is not None else []
    return found or [DEFAULT_SERVICE]


async def visible_services(
    ctx: ConsoleContext, session: ConsoleSession
) -> list[tuple[ServiceInfo, str]]:
    """The services ``session``'s operator may see, each with their role on it."""
    services = services_of(ctx)
    if session.role == Role.ADMIN.value:
        return [(service, Role.ADMIN.value) for service in services]
    assert session.username is not None
    rows = await ctx.backend.service_roles(session.username)
    own = session.role or NONE
    roles = [(service, rows.get(service.key, own)) for service in services]
    return [(service, role) for service, role in roles if role != NONE]


async def resolve_scope(request: web.Request, session: ConsoleSession) -> Scope | web.Response:
    """The request's scope, or the 403 that refuses it."""
    ctx = context(request)
    visible = await visible_services(ctx, session)
    if not visible:
        return web.Response(status=403, text="Your account has no role on any service.")
    wanted = session.service
    service, role = next(((s, r) for s, r in visible if s.id == wanted), visible[0])
    scope = Scope(service, role, tuple(visible))
    refusal = await _foreign_object(request, ctx, scope)
    if refusal:
        return web.Response(status=403, text=refusal)
    request[SCOPE] = scope
    return scope


async def _foreign_object(request: web.Request, ctx: ConsoleContext, scope: Scope) -> str:
    """Why the request names another service's object ("" when it does not)."""
    service = scope.service
    services = services_of(ctx)
    menu = request.match_info.get("name")
    if menu is not None:
        owners = [s for s in services if (s.menu or s.id) == menu]
        if owners and owners[0].id != service.id:
            return f"This menu belongs to another service than {service.id!r}."
    alert = request.match_info.get("alert")
    if alert is not None and alert.isdigit():
        broadcast = await ctx.backend.get_broadcast(int(alert))
        if broadcast is not None and broadcast.audience.service != service.key:
            return f"This alert belongs to another service than {service.id!r}."
    path = request.path.removeprefix(ctx.base)
    if path.startswith("/content/") and not service.default and not service.content:
        # A service without a content folder of its own shares the default's: it is
        # edited (and its edits audited) with the default service chosen.
        return (
            f"{service.id!r} shares the default service's content: "
            "choose the default service to edit it."
        )
    return ""


def chosen_service(request: web.Request) -> ServiceInfo:
    """The service the request is about (the default when no operator is signed in)."""
    scope: Scope | None = request.get(SCOPE)
    return scope.service if scope is not None else DEFAULT_SERVICE


def service_role(request: web.Request) -> str | None:
    """The operator's role on the chosen service."""
    scope: Scope | None = request.get(SCOPE)
    if scope is not None:
        return scope.role
    session = current_session(request)
    return session.role if session else None


def visible(request: web.Request) -> Sequence[tuple[ServiceInfo, str]]:
    scope: Scope | None = request.get(SCOPE)
    return scope.visible if scope is not None else ()


async def choose_service(request: web.Request) -> web.StreamResponse:
    """``POST /service``: switch to another service the operator may see."""
    from gateway.console.context import redirect

    session = current_session(request)
    assert session is not None
    form = await request.post()
    wanted = str(form.get("service", ""))
    if not any(service.id == wanted for service, _ in visible(request)):
        return web.Response(status=403, text="You may not see this service.")
    session.service = wanted
    return redirect(request, "/")


def add_routes(app: web.Application) -> None:
    app.router.add_post("/service", choose_service)
