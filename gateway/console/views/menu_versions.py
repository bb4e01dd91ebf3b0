"""Menu versions: the list, diffs, four-eyes publishing, rollback, import and export.

Publishing needs an approver who edited none of the drafts since the live version,
and a draft the validator accepts; the published YAML goes to the gateway's publish
hook, which swaps the live tree without a restart. A rollback publishes an old
version's text again as a new version.
"""

from __future__ import annotations

import difflib
from typing import Any

from aiohttp import web

from gateway.console import menu_draft, publishing, review
from gateway.console.content_source import check_menu_text, menu_source
from gateway.console.context import context, current_role, redirect, render, signed_in_user
from gateway.console.roles import Permission, allows
from gateway.console.security import requires, sensitive
from gateway.console.service_scope import chosen_service
from gateway.console.views.menu_common import (
    MAX_YAML,
    draft_authors,
    editor_path,
    menu_name_of,
    pick,
    save_draft,
    versions_of,
)
from gateway.console.views.version_act import version_act
from gateway.store.records import MenuVersion


async def versions(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = menu_name_of(request)
    rows = await versions_of(ctx, name)
    diff_lines: list[tuple[str, str]] = []
    a, b = request.query.get("a"), request.query.get("b")
    if a and b and a.isdigit() and b.isdigit():
        old, new = (
            await ctx.backend.get_menu_version(int(a)),
            await ctx.backend.get_menu_version(int(b)),
        )
        if old is not None and new is not None:
            diff_lines = _diff(old, new)
    current = pick(rows, "draft")
    live = pick(rows, "published")
    # Only the open draft is checked (older drafts are history): a broken old draft
    # cannot make this page fail or slow.
    checked = await check_menu_text(ctx, current.tree_yaml, name) if current is not None else None
    changes = (
        review.tree_changes(live.tree_yaml if live else None, current.tree_yaml)
        if current is not None
        else []
    )
    everything = (
        review.tree_changes(None, current.tree_yaml) if current is not None and live else []
    )
    fresh = (
        await publishing.menu_freshness(menu_source(ctx, name), checked, ctx.now())
        if checked is not None
        else None
    )
    return render(
        request,
        "menu_versions.html",
        {
            "name": name,
            "versions": rows,
            "diff": diff_lines,
            "a": a or "",
            "b": b or "",
            "valid": {current.id: checked.publishable} if current and checked else {},
            "checked": checked,
            "review": review.grouped(changes),
            "against": f"v{live.id}" if live else "nothing (a first version)",
            "current_draft": current.id if current else None,
            "draft_authors": draft_authors(rows),
            "can_approve": allows(current_role(request), Permission.APPROVE),
            "can_edit": allows(current_role(request), Permission.EDIT),
            "everything": len(everything),
            "fresh": fresh,
            "stale_after_days": ctx.settings.stale_after_days,
            "draft": current,
            "submitted": current is not None and current.submitted_at is not None,
            "publish_url": f"/menus/{name}/versions/{current.id}/publish" if current else "",
            "submit_url": f"/menus/{name}/versions/{current.id}/submit" if current else "",
        },
    )


def _diff(old: MenuVersion, new: MenuVersion) -> list[tuple[str, str]]:
    lines = difflib.unified_diff(
        old.tree_yaml.splitlines(),
        new.tree_yaml.splitlines(),
        f"version {old.id}",
        f"version {new.id}",
        lineterm="",
        n=2,
    )
    out = []
    for line in lines:
        kind = "add" if line.startswith("+") else "del" if line.startswith("-") else ""
        out.append((kind, line))
    return out


async def _version_of(request: web.Request, name: str) -> MenuVersion:
    raw = request.match_info["version"]
    version = await context(request).backend.get_menu_version(int(raw)) if raw.isdigit() else None
    if version is None or version.menu_name != name:
        raise web.HTTPNotFound(text="no such version")
    found: MenuVersion = version
    return found


async def _go_live(request: web.Request, name: str, version: MenuVersion) -> None:
    """Hand the published tree to the running gateway, which swaps its live tree."""
    hook = context(request).hooks.publish
    if hook is not None:
        await hook(name, version.tree_yaml, version.id)


@sensitive
@requires(Permission.APPROVE)
async def publish(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = menu_name_of(request)
    version = await _version_of(request, name)
    outcome = await publishing.publish_menu(version_act(request, menu_source(ctx, name), version))
    if outcome.four_eyes:
        return web.Response(status=403, text=outcome.message)
    if not outcome.published:
        where = f"/menus/{name}" if "problem" in outcome.message else f"/menus/{name}/versions"
        return redirect(request, where, flash=outcome.message)
    await _go_live(request, name, version)
    return redirect(request, f"/menus/{name}/versions", flash=outcome.message)


@requires(Permission.EDIT)
async def submit(request: web.Request) -> web.StreamResponse:
    """Submit the open draft for review: refused, with the validator's problems shown on
    their screens and fields in the editor, unless the gateway would serve it."""
    ctx = context(request)
    name = menu_name_of(request)
    version = await _version_of(request, name)
    outcome = await publishing.submit(version_act(request, menu_source(ctx, name), version))
    if outcome.submitted:
        return redirect(request, f"/menus/{name}/versions#review", flash=outcome.message)
    checked = outcome.checked
    first = next(iter(checked.by_screen), "") if checked is not None else ""
    return redirect(request, editor_path(name, first), flash=outcome.message)


@sensitive
@requires(Permission.APPROVE)
async def rollback(request: web.Request) -> web.StreamResponse:
    """Publish an old version's text again, as a new version."""
    ctx = context(request)
    name = menu_name_of(request)
    user = signed_in_user(request)
    old = await _version_of(request, name)
    if old.state == "draft":
        return redirect(request, f"/menus/{name}/versions", flash="Roll back to a published one.")
    checked = await check_menu_text(ctx, old.tree_yaml, name)
    if not checked.publishable:
        return redirect(
            request,
            f"/menus/{name}/versions",
            flash=f"Version {old.id} no longer validates (content changed); not rolled back.",
        )
    clash = publishing.service_refusal(menu_source(ctx, name), name, old.tree_yaml, checked)
    if clash:
        return redirect(request, f"/menus/{name}/versions", flash=f"Not rolled back: {clash}")
    live = pick(await versions_of(ctx, name), "published")
    changes = review.tree_changes(live.tree_yaml if live else None, old.tree_yaml)
    copy = await ctx.backend.create_menu_version(name, old.tree_yaml, old.author, ctx.now())
    if not await ctx.backend.publish_menu_version(copy.id, user, ctx.now()):
        return redirect(request, f"/menus/{name}/versions", flash="Not rolled back.")
    await ctx.backend.append_audit(
        user,
        "menu_rollback",
        f"menu:{name}",
        {
            "version": str(copy.id),
            "copy_of": str(old.id),
            **review.audit_details(changes),
        },
        ctx.now(),
        service=chosen_service(request).key,
    )
    await _go_live(request, name, copy)
    return redirect(
        request,
        f"/menus/{name}/versions",
        flash=f"Rolled back: version {copy.id} (a copy of {old.id}) is live.",
    )


async def export(request: web.Request) -> web.StreamResponse:
    name = menu_name_of(request)
    version = await _version_of(request, name)
    return web.Response(
        text=version.tree_yaml,
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}-v{version.id}.yaml"'},
    )


@requires(Permission.EDIT)
async def import_yaml(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = menu_name_of(request)
    form = await request.post()
    upload: Any = form.get("file")
    if upload is not None and hasattr(upload, "file"):
        raw = upload.file.read(MAX_YAML + 1)
    else:
        raw = str(form.get("yaml", "")).encode()
    if not raw.strip() or len(raw) > MAX_YAML:
        return redirect(request, f"/menus/{name}/versions", flash="Choose a YAML file (≤ 1 MiB).")
    try:
        text = raw.decode("utf-8")
        menu_draft.parse(text)
    except (UnicodeDecodeError, menu_draft.DraftError) as exc:
        return redirect(request, f"/menus/{name}/versions", flash=f"Not imported: {exc}")
    draft = await save_draft(request, name, text, "import")
    checked = await check_menu_text(ctx, text, name)
    note = (
        " Submit it for review when ready."
        if checked.publishable
        else f" It has {len(checked.problems)} problem(s) to fix before it can be submitted."
    )
    return redirect(request, f"/menus/{name}", flash=f"Imported as draft {draft.id}.{note}")


def add_routes(app: web.Application) -> None:
    app.router.add_get("/menus/{name}/versions", versions)
    app.router.add_post("/menus/{name}/versions/{version}/publish", publish)
    app.router.add_post("/menus/{name}/versions/{version}/submit", submit)
    app.router.add_post("/menus/{name}/versions/{version}/rollback", rollback)
    app.router.add_get("/menus/{name}/versions/{version}/export", export)
    app.router.add_post("/menus/{name}/import", import_yaml)
