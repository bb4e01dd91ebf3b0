"""Shared by the menu pages: which menu, its versions, the draft an edit starts from,
and saving a draft (audited)."""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.console.context import ConsoleContext, context, signed_in_user
from gateway.console.menu_check import menu_files
from gateway.console.service_scope import chosen_service
from gateway.menu.pages import Limit
from gateway.store.records import MenuVersion

MENU_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
MAX_YAML = 1024 * 1024


def limit_of(ctx: ConsoleContext) -> Limit:
    return Limit(gsm7=ctx.settings.screen_limit)


def menu_name_of(request: web.Request) -> str:
    name = request.match_info["name"]
    if not MENU_NAME.match(name):
        raise web.HTTPNotFound(text="no such menu")
    return name


async def versions_of(ctx: ConsoleContext, name: str) -> list[MenuVersion]:
    """Every version of the menu, newest first."""
    versions: list[MenuVersion] = await ctx.backend.list_menu_versions(name)
    return sorted(versions, key=lambda version: version.id, reverse=True)


def pick(versions: list[MenuVersion], state: str) -> MenuVersion | None:
    """The newest version in ``state``; a draft counts only if newer than the live one
    (each edit saves a new draft version, so older drafts are history)."""
    if state == "draft":
        live = pick(versions, "published")
        newest = versions[0] if versions else None
        if newest is not None and newest.state == "draft" and (live is None or newest.id > live.id):
            return newest
        return None
    return next((v for v in versions if v.state == state), None)


def draft_authors(versions: list[MenuVersion]) -> set[str]:
    """Everybody who saved a draft since the live version: none of them may publish it."""
    live = pick(versions, "published")
    return {v.author for v in versions if v.state == "draft" and (live is None or v.id > live.id)}


async def working_text(ctx: ConsoleContext, name: str) -> tuple[str, MenuVersion | None]:
    """The text an edit starts from: the open draft, else the published version, else
    the shipped file."""
    versions = await versions_of(ctx, name)
    current = pick(versions, "draft") or pick(versions, "published")
    if current is not None:
        return current.tree_yaml, current
    path = menu_files(ctx.settings.menus).get(name)
    if path is None:
        raise web.HTTPNotFound(text="no such menu")
    return path.read_text(encoding="utf-8"), None


def screen_view(screen: Any) -> dict[str, Any] | None:
    """A screen's mapping with every key the template reads (absent keys = defaults)."""
    if not isinstance(screen, dict):
        return None
    options = [
        {"key": "", "goto": "", **option, "label": option.get("label") or {}}
        for option in screen.get("options") or []
        if isinstance(option, dict)
    ]
    return {
        **screen,
        "type": screen.get("type", "menu"),
        "text": screen.get("text") or {},
        "options": options,
    }


async def save_draft(request: web.Request, name: str, text: str, what: str) -> MenuVersion:
    ctx = context(request)
    user = signed_in_user(request)
    draft: MenuVersion = await ctx.backend.create_menu_version(name, text, user, ctx.now())
    await ctx.backend.append_audit(
        user,
        "menu_edit",
        f"menu:{name}",
        {"version": str(draft.id), "change": what},
        ctx.now(),
        service=chosen_service(request).key,
    )
    return draft


def editor_path(name: str, screen: str, language: str = "") -> str:
    query = f"?screen={screen}" + (f"&lang={language}" if language else "")
    return f"/menus/{name}{query}"
