"""Content: hotlines, safe-route alerts and warnings, each with its source and the date
it was last verified; stale entries flagged; "verified today"; CSV import of hotlines
with a preview of what changes."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aiohttp import web

from gateway.console.content_files import (
    ContentEditError,
    apply_import,
    mark_verified,
    parse_hotlines_csv,
    preview,
)
from gateway.console.context import context, redirect, render, signed_in_user
from gateway.console.roles import Permission
from gateway.console.security import requires
from gateway.console.views.dashboard import catalog_cache

HOTLINES = "hotlines"


def _today(request: web.Request) -> dt.date:
    return dt.datetime.fromtimestamp(context(request).now(), dt.UTC).date()


def _languages(request: web.Request) -> list[str]:
    catalogs = catalog_cache(request).get()
    found: set[str] = set()
    for catalog in catalogs.values():
        for entry in catalog.entries:
            found |= set(entry.text)
    return sorted(found) or [context(request).settings.default_language]


async def _content_changed(request: web.Request) -> None:
    catalog_cache(request).touch()
    hook = context(request).hooks.content_changed
    if hook is not None:
        await hook()


async def content_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    cache = catalog_cache(request)
    catalogs = cache.get()
    limit = _today(request) - dt.timedelta(days=ctx.settings.stale_after_days)
    return render(
        request,
        "content.html",
        {
            "catalogs": sorted(catalogs.items()),
            "stale_before": limit,
            "error": cache.error,
            "languages": _languages(request),
            "preview": None,
            "csv_text": "",
        },
    )


@requires(Permission.EDIT)
async def verify_entry(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    kind, entry_id = str(form.get("kind", "")), str(form.get("entry", ""))
    user = signed_in_user(request)
    try:
        mark_verified(ctx.settings.content, kind, entry_id, user, _today(request))
    except ContentEditError as exc:
        return redirect(request, "/content", flash=f"Not changed: {exc}")
    await ctx.backend.append_audit(
        user, "content_verify", f"content:{kind}/{entry_id}", {}, ctx.now()
    )
    await _content_changed(request)
    return redirect(request, f"/content#{kind}-{entry_id}", flash=f"{entry_id}: verified today.")


@requires(Permission.EDIT)
async def import_csv(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    upload: Any = form.get("file")
    if upload is not None and hasattr(upload, "file"):
        raw = upload.file.read(600 * 1024).decode("utf-8", errors="replace")
    else:
        raw = str(form.get("csv_text", ""))
    rows, errors = parse_hotlines_csv(raw, _languages(request))
    try:
        result = preview(ctx.settings.content, HOTLINES, rows, errors)
    except ContentEditError as exc:
        return redirect(request, "/content", flash=f"Not imported: {exc}")
    if form.get("action") == "apply" and result.has_changes:
        user = signed_in_user(request)
        try:
            count = apply_import(ctx.settings.content, HOTLINES, rows)
        except ContentEditError as exc:
            return redirect(request, "/content", flash=f"Not imported: {exc}")
        await ctx.backend.append_audit(
            user,
            "content_import",
            f"content:{HOTLINES}",
            {"added": len(result.added), "changed": len(result.changed)},
            ctx.now(),
        )
        await _content_changed(request)
        return redirect(request, "/content", flash=f"Imported {count} hotline rows.")
    cache = catalog_cache(request)
    limit = _today(request) - dt.timedelta(days=ctx.settings.stale_after_days)
    return render(
        request,
        "content.html",
        {
            "catalogs": sorted(cache.get().items()),
            "stale_before": limit,
            "error": cache.error,
            "languages": _languages(request),
            "preview": result,
            "csv_text": raw,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/content", content_page)
    app.router.add_post("/content/verify", verify_entry)
    app.router.add_post("/content/import", import_csv)
