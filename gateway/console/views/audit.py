"""The audit log: every sign-in, edit, publish, approval, rollback and alert action,
newest first, and whether the hash chain still verifies end to end."""

from __future__ import annotations

from aiohttp import web

from gateway.console.context import context, render

PAGE = 200
MAX_READ = 100_000


async def audit_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    check = await ctx.backend.verify_audit_chain()
    entries = await ctx.backend.audit_entries(after_id=0, limit=MAX_READ)
    before = request.query.get("before", "")
    if before.isdigit():
        entries = [entry for entry in entries if entry.id < int(before)]
    newest_first = list(reversed(entries))
    shown = newest_first[:PAGE]
    older = shown[-1].id if len(newest_first) > PAGE else None
    return render(request, "audit.html", {"check": check, "entries": shown, "older": older})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/audit", audit_page)
