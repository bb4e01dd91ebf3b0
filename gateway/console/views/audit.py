"""The audit log: every sign-in, edit, publish, approval, rollback and alert action,
newest first, and whether the keyed chain still verifies end to end and still holds
what the newest checkpoint outside the database recorded.

Rows are shown per service. An admin sees every row, and may filter by service (or
keep the rows about no service: sign-ins, accounts). Any other operator sees the rows
of the services they hold a role on, and of the rows about no service only their own
(their sign-ins, failed sign-ins typed under their name, their password changes);
they may filter among their services. The integrity check always walks the whole
chain, every service's rows included: a row cut from another service's part breaks it
for everyone.
"""

from __future__ import annotations

from collections.abc import Sequence

from aiohttp import web

from gateway.console.context import (
    claimed_name,
    context,
    current_session,
    render,
    signed_in_user,
)
from gateway.console.ports import ServiceInfo
from gateway.console.roles import Role
from gateway.console.service_scope import services_of, visible
from gateway.store.records import AuditScope

PAGE = 200
NO_SERVICE = "-"  # the filter value for the rows about no service (admins only)


def _scope(
    wanted: str, admin: bool, username: str, services: Sequence[ServiceInfo]
) -> AuditScope | web.Response | None:
    """The rows the filter ``wanted`` ("" all, a service id, or ``NO_SERVICE``) shows
    this operator; a 403 for a service they may not see."""
    chosen = next((service for service in services if service.id == wanted), None)
    if wanted and chosen is None and not (admin and wanted == NO_SERVICE):
        return web.Response(status=403, text="You may not see this service's audit rows.")
    if chosen is not None:
        return AuditScope(services=(chosen.key,))
    if admin:
        return AuditScope(unscoped=True) if wanted == NO_SERVICE else None
    # Their own rows about no service: what they did, and sign-ins failed under their name.
    own = (username, claimed_name(username))
    return AuditScope(services=tuple(service.key for service in services), own_actors=own)


async def audit_page(request: web.Request) -> web.StreamResponse:
    """Newest first; "older" follows a cursor (the last id shown), so every row of a
    log of any length can be reached."""
    ctx = context(request)
    session = current_session(request)
    admin = session is not None and session.role == Role.ADMIN.value
    services = services_of(ctx) if admin else [service for service, _ in visible(request)]
    wanted = request.query.get("service", "")
    scope = _scope(wanted, admin, signed_in_user(request), services)
    if isinstance(scope, web.Response):
        return scope
    check = await ctx.backend.verify_audit_log()
    before = request.query.get("before", "")
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    page = await ctx.backend.audit_entries_before(cursor, PAGE + 1, scope)
    shown = page[:PAGE]
    older = shown[-1].id if len(page) > PAGE else None
    names = {service.key: service.id for service in services_of(ctx)}
    return render(
        request,
        "audit.html",
        {
            "check": check,
            "entries": shown,
            "older": older,
            "service_names": names,
            "filters": [service.id for service in services],
            "no_service": NO_SERVICE if admin else "",
            "wanted": wanted,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page)
