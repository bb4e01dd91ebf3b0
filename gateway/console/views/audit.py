"""The audit log: every sign-in, edit, publish, approval, rollback and alert action,
newest first, and whether the keyed chain still verifies end to end and still holds
what the newest checkpoint outside the database recorded."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, render

PAGE = 200


async def audit_page(request: web.Request) -> web.StreamResponse:
    """Newest first; "older" follows a cursor (the last id shown), so every row of a
    log of any length can be reached."""
    ctx = context(request)
    check = await ctx.backend.verify_audit_log()
    before = request.query.get("before", "")
    cursor = int(before) if before.isdigit() and len(before) < 19 else None
    page = await ctx.backend.audit_entries_before(cursor, PAGE + 1)
    shown = page[:PAGE]
    older = shown[-1].id if len(page) > PAGE else None
    return render(request, "audit.html", {"check": check, "entries": shown, "older": older})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page)
