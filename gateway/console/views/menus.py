"""The menu editor: outline, screen texts with a live budget, simulator, versions.

Every edit saves the menu's draft (starting one from the published version, or from
the shipped file, if there is none). Publishing needs an approver who is not the
draft's author and a draft the validator accepts; the published YAML is handed to
the gateway's publish hook, which swaps the live tree without a restart.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from aiohttp import web

from gateway.console import menu_draft
from gateway.console.context import (
    ConsoleContext,
    context,
    current_role,
    ensure_session,
    redirect,
    render,
    signed_in_user,
)
from gateway.console.menu_check import (
    CatalogCache,
    budget,
    check,
    menu_files,
    simulate_start,
    simulate_step,
)
from gateway.console.roles import Permission, allows
from gateway.console.security import requires
from gateway.menu.loader import Problem
from gateway.menu.pages import Limit
from gateway.store.records import MenuVersion

MENU_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,59}$")
MAX_YAML = 1024 * 1024


def _limit(ctx: ConsoleContext) -> Limit:
    return Limit(gsm7=ctx.settings.screen_limit)


def _catalogs(ctx: ConsoleContext) -> CatalogCache:
    cache = ctx.extras.get("catalog_cache")
    if not isinstance(cache, CatalogCache):
        cache = CatalogCache(ctx.settings.content)
        ctx.extras["catalog_cache"] = cache
    return cache


def _name(request: web.Request) -> str:
    name = request.match_info["name"]
    if not MENU_NAME.match(name):
        raise web.HTTPNotFound(text="no such menu")
    return name


async def _versions(ctx: ConsoleContext, name: str) -> list[MenuVersion]:
    """Every version of the menu, newest first."""
    versions: list[MenuVersion] = await ctx.backend.list_menu_versions(name)
    return sorted(versions, key=lambda version: version.id, reverse=True)


def _pick(versions: list[MenuVersion], state: str) -> MenuVersion | None:
    """The newest version in ``state``; a draft counts only if newer than the live one
    (each edit saves a new draft version, so older drafts are history)."""
    if state == "draft":
        live = _pick(versions, "published")
        newest = versions[0] if versions else None
        if newest is not None and newest.state == "draft" and (live is None or newest.id > live.id):
            return newest
        return None
    return next((v for v in versions if v.state == state), None)


def _draft_authors(versions: list[MenuVersion]) -> set[str]:
    """Everybody who saved a draft since the live version: none of them may publish it."""
    live = _pick(versions, "published")
    return {v.author for v in versions if v.state == "draft" and (live is None or v.id > live.id)}


async def _working_text(ctx: ConsoleContext, name: str) -> tuple[str, MenuVersion | None]:
    """The text an edit starts from: the open draft, else the published version, else
    the shipped file."""
    versions = await _versions(ctx, name)
    current = _pick(versions, "draft") or _pick(versions, "published")
    if current is not None:
        return current.tree_yaml, current
    path = menu_files(ctx.settings.menus).get(name)
    if path is None:
        raise web.HTTPNotFound(text="no such menu")
    return path.read_text(encoding="utf-8"), None


async def menus_index(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    names = set(menu_files(ctx.settings.menus))
    rows = []
    for name in sorted(names):
        versions = await _versions(ctx, name)
        rows.append(
            {
                "name": name,
                "published": _pick(versions, "published"),
                "draft": _pick(versions, "draft"),
                "count": len(versions),
            }
        )
    return render(request, "menus.html", {"menus": rows})


async def menu_editor(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = _name(request)
    text, current = await _working_text(ctx, name)
    checked = check(text, name, _catalogs(ctx).get(), _limit(ctx))
    try:
        data = menu_draft.parse(text)
    except menu_draft.DraftError as exc:
        data = {"screens": {}}
        checked.general.append(Problem(f"{name}.yaml", 0, "", str(exc)))
    languages = [str(lang) for lang in data.get("languages") or ["en"]]
    language = request.query.get("lang", languages[0])
    if language not in languages:
        language = languages[0]
    screen_id = request.query.get("screen", str(data.get("home") or ""))
    screen = data["screens"].get(screen_id)
    budgets = {lang: budget(checked.tree, screen_id, lang, _limit(ctx)) for lang in languages}
    session = ensure_session(request)
    sim = session.simulator.get(name) or {}
    return render(
        request,
        "menu_edit.html",
        {
            "name": name,
            "current": current,
            "checked": checked,
            "outline": menu_draft.outline(data, language),
            "languages": languages,
            "language": language,
            "screen_id": screen_id,
            "screen": _screen_view(screen),
            "screen_ids": sorted(data["screens"]),
            "screen_types": menu_draft.SCREEN_TYPES,
            "budgets": budgets,
            "sim": sim,
            "catalog_error": _catalogs(ctx).error,
        },
    )


def _screen_view(screen: Any) -> dict[str, Any] | None:
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


async def _save(request: web.Request, name: str, text: str, what: str) -> MenuVersion:
    ctx = context(request)
    user = signed_in_user(request)
    draft: MenuVersion = await ctx.backend.create_menu_version(name, text, user, ctx.now())
    await ctx.backend.append_audit(
        user, "menu_edit", f"menu:{name}", {"version": str(draft.id), "change": what}, ctx.now()
    )
    return draft


def _back_to(name: str, screen: str, language: str = "") -> str:
    query = f"?screen={screen}" + (f"&lang={language}" if language else "")
    return f"/menus/{name}{query}"


@requires(Permission.EDIT)
async def edit_texts(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = _name(request)
    screen_id = request.match_info["screen"]
    form = await request.post()
    text, _ = await _working_text(ctx, name)
    texts = {k[5:]: str(v) for k, v in form.items() if k.startswith("text.")}
    labels: dict[str, dict[str, str]] = {}
    for field_name, value in form.items():
        if field_name.startswith("label."):
            _, key, lang = field_name.split(".", 2)
            labels.setdefault(key, {})[lang] = str(value)
    try:
        new_text = menu_draft.set_texts(text, screen_id, texts, labels)
    except menu_draft.DraftError as exc:
        return redirect(request, _back_to(name, screen_id), flash=f"Not saved: {exc}")
    await _save(request, name, new_text, f"texts of {screen_id}")
    checked = check(new_text, name, _catalogs(ctx).get(), _limit(ctx))
    notes = [
        f"{lang}: needs {b.pages} screens (98 More)"
        for lang in texts
        if (b := budget(checked.tree, screen_id, lang, _limit(ctx))).pages > 1
    ]
    message = "Draft saved." + (" Too long for one screen: " + "; ".join(notes) if notes else "")
    return redirect(request, _back_to(name, screen_id, str(form.get("lang", ""))), flash=message)


@requires(Permission.EDIT)
async def structure(request: web.Request) -> web.StreamResponse:
    """Add, delete and move screens and options (one form per action)."""
    ctx = context(request)
    name = _name(request)
    form = await request.post()
    action = str(form.get("action", ""))
    screen_id = str(form.get("screen", ""))
    text, _ = await _working_text(ctx, name)
    go_to = screen_id
    try:
        if action == "add_screen":
            go_to = str(form.get("new_id", "")).strip()
            new_text = menu_draft.add_screen(
                text,
                go_to,
                str(form.get("kind", "text")),
                screen_id,
                str(form.get("key", "")).strip(),
                str(form.get("label", "")).strip(),
            )
        elif action == "delete_screen":
            new_text = menu_draft.delete_screen(text, screen_id)
            go_to = ""
        elif action in ("option_up", "option_down"):
            delta = -1 if action == "option_up" else 1
            new_text = menu_draft.move_option(text, screen_id, str(form.get("key")), delta)
        elif action == "delete_option":
            new_text = menu_draft.delete_option(text, screen_id, str(form.get("key")))
        elif action == "renumber":
            new_text = menu_draft.renumber(text, screen_id)
        elif action == "move_screen":
            new_text = menu_draft.move_screen(
                text,
                str(form.get("child")),
                screen_id,
                str(form.get("new_parent")),
                str(form.get("key", "")).strip(),
            )
        else:
            raise menu_draft.DraftError(f"unknown action {action!r}")
    except menu_draft.DraftError as exc:
        return redirect(request, _back_to(name, screen_id), flash=f"Not changed: {exc}")
    await _save(request, name, new_text, f"{action} {screen_id}")
    return redirect(request, _back_to(name, go_to), flash="Draft saved.")


async def simulator(request: web.Request) -> web.StreamResponse:
    """Dial the draft (or published) tree and walk it, exactly as the engine answers."""
    ctx = context(request)
    name = _name(request)
    form = await request.post()
    text, _ = await _working_text(ctx, name)
    checked = check(text, name, _catalogs(ctx).get(), _limit(ctx))
    session = ensure_session(request)
    back = _back_to(name, str(form.get("screen", "")), str(form.get("lang", "")))
    if checked.tree is None:
        return redirect(request, back, flash="The draft does not load; fix the errors first.")
    tree = checked.tree
    sim = session.simulator.get(name) or {}
    if form.get("action") == "dial" or not sim.get("state"):
        result = simulate_start(
            tree, str(form.get("sim_lang", "")), str(form.get("country", "")).upper(), _limit(ctx)
        )
        transcript: list[dict[str, str]] = []
    elif form.get("action") == "hangup":
        session.simulator.pop(name, None)
        return redirect(request, back)
    else:
        user_input = str(form.get("input", ""))[:160]
        result = simulate_step(tree, sim["state"], user_input, _limit(ctx))
        transcript = [*sim.get("transcript", []), {"you": user_input}]
    transcript = [*transcript, {"phone": result.display.text}][-12:]
    session.simulator[name] = {
        "state": None if result.display.end else result.state.to_dict(),
        "screen": result.display.text,
        "screen_id": result.display.screen_id,
        "ended": result.display.end,
        "effects": [type(effect).__name__ for effect in result.effects],
        "transcript": transcript,
    }
    return redirect(request, back + "#simulator")


async def versions(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = _name(request)
    rows = await _versions(ctx, name)
    diff_lines: list[tuple[str, str]] = []
    a, b = request.query.get("a"), request.query.get("b")
    if a and b and a.isdigit() and b.isdigit():
        old, new = (
            await ctx.backend.get_menu_version(int(a)),
            await ctx.backend.get_menu_version(int(b)),
        )
        if old is not None and new is not None:
            diff_lines = _diff(old, new)
    checked = {
        v.id: check(v.tree_yaml, name, _catalogs(ctx).get(), _limit(ctx)).publishable
        for v in rows
        if v.state == "draft"
    }
    current = _pick(rows, "draft")
    return render(
        request,
        "menu_versions.html",
        {
            "name": name,
            "versions": rows,
            "diff": diff_lines,
            "a": a or "",
            "b": b or "",
            "valid": checked,
            "current_draft": current.id if current else None,
            "draft_authors": _draft_authors(rows),
            "can_approve": allows(current_role(request), Permission.APPROVE),
            "can_edit": allows(current_role(request), Permission.EDIT),
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
    hook = context(request).extras.get("publish_hook")
    if hook is not None:
        await hook(name, version.tree_yaml, version.id)


@requires(Permission.APPROVE)
async def publish(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = _name(request)
    user = signed_in_user(request)
    version = await _version_of(request, name)
    history = await _versions(ctx, name)
    current = _pick(history, "draft")
    if current is None or current.id != version.id:
        return redirect(
            request, f"/menus/{name}/versions", flash="Only the newest draft can be published."
        )
    if user in _draft_authors(history):
        return web.Response(
            status=403,
            text="You edited this draft: another approver must publish it (four-eyes rule).",
        )
    checked = check(version.tree_yaml, name, _catalogs(ctx).get(), _limit(ctx))
    if not checked.publishable:
        return redirect(
            request,
            f"/menus/{name}",
            flash=f"Not published: the draft has {len(checked.problems)} problem(s).",
        )
    if not await ctx.backend.publish_menu_version(version.id, user, ctx.now()):
        return redirect(request, f"/menus/{name}/versions", flash="Not published: it changed.")
    await ctx.backend.append_audit(
        user,
        "menu_publish",
        f"menu:{name}",
        {"version": str(version.id), "author": version.author},
        ctx.now(),
    )
    await _go_live(request, name, version)
    return redirect(request, f"/menus/{name}/versions", flash=f"Version {version.id} is live.")


@requires(Permission.APPROVE)
async def rollback(request: web.Request) -> web.StreamResponse:
    """Publish an old version's text again, as a new version."""
    ctx = context(request)
    name = _name(request)
    user = signed_in_user(request)
    old = await _version_of(request, name)
    if old.state == "draft":
        return redirect(request, f"/menus/{name}/versions", flash="Roll back to a published one.")
    checked = check(old.tree_yaml, name, _catalogs(ctx).get(), _limit(ctx))
    if not checked.publishable:
        return redirect(
            request,
            f"/menus/{name}/versions",
            flash=f"Version {old.id} no longer validates (content changed); not rolled back.",
        )
    copy = await ctx.backend.create_menu_version(name, old.tree_yaml, old.author, ctx.now())
    if not await ctx.backend.publish_menu_version(copy.id, user, ctx.now()):
        return redirect(request, f"/menus/{name}/versions", flash="Not rolled back.")
    await ctx.backend.append_audit(
        user,
        "menu_rollback",
        f"menu:{name}",
        {"version": str(copy.id), "copy_of": str(old.id)},
        ctx.now(),
    )
    await _go_live(request, name, copy)
    return redirect(
        request,
        f"/menus/{name}/versions",
        flash=f"Rolled back: version {copy.id} (a copy of {old.id}) is live.",
    )


async def export(request: web.Request) -> web.StreamResponse:
    name = _name(request)
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
    name = _name(request)
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
    draft = await _save(request, name, text, "import")
    checked = check(text, name, _catalogs(ctx).get(), _limit(ctx))
    note = "" if checked.publishable else f" It has {len(checked.problems)} problem(s) to fix."
    return redirect(request, f"/menus/{name}", flash=f"Imported as draft {draft.id}.{note}")


async def translations(request: web.Request) -> web.StreamResponse:
    """Every text of the tree in the fallback language beside one target language,
    missing translations first in mind (RapidPro's translation view, for USSD)."""
    ctx = context(request)
    name = _name(request)
    text, current = await _working_text(ctx, name)
    data = menu_draft.parse(text)
    languages = [str(lang) for lang in data.get("languages") or ["en"]]
    fallback = str(data.get("fallback_language") or languages[0])
    targets = [lang for lang in languages if lang != fallback] or languages
    language = request.query.get("lang", targets[0])
    if language not in languages:
        language = targets[0]
    checked = check(text, name, _catalogs(ctx).get(), _limit(ctx))
    rows = []
    for screen_id, raw in data["screens"].items():
        screen = _screen_view(raw)
        if screen is None:
            continue
        rows.append(
            {
                "id": screen_id,
                "source": screen["text"].get(fallback, ""),
                "value": screen["text"].get(language, ""),
                "has_text": bool(screen["text"]),
                "budget": budget(checked.tree, screen_id, language, _limit(ctx)),
                "options": [
                    (o["key"], o["label"].get(fallback, ""), o["label"].get(language, ""))
                    for o in screen["options"]
                ],
            }
        )
    missing = sum(1 for r in rows if r["has_text"] and not r["value"]) + sum(
        1 for r in rows for _, _, value in r["options"] if not value
    )
    return render(
        request,
        "menu_translations.html",
        {
            "name": name,
            "rows": rows,
            "language": language,
            "fallback": fallback,
            "targets": targets,
            "missing": missing,
            "current": current,
        },
    )


@requires(Permission.EDIT)
async def save_translations(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = _name(request)
    form = await request.post()
    language = str(form.get("lang", ""))
    text, _ = await _working_text(ctx, name)
    texts = {k[2:]: str(v) for k, v in form.items() if k.startswith("t.")}
    labels = {}
    for key, value in form.items():
        if key.startswith("o."):
            _, screen_id, option_key = key.split(".", 2)
            labels[(screen_id, option_key)] = str(value)
    try:
        new_text = menu_draft.set_translations(text, language, texts, labels)
    except menu_draft.DraftError as exc:
        return redirect(request, f"/menus/{name}/translations?lang={language}", flash=str(exc))
    if new_text != menu_draft.dump(menu_draft.parse(text)):
        await _save(request, name, new_text, f"translations {language}")
        message = "Draft saved."
    else:
        message = "Nothing changed."
    return redirect(request, f"/menus/{name}/translations?lang={language}", flash=message)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/menus/{name}/translations", translations)
    app.router.add_post("/menus/{name}/translations", save_translations)
    app.router.add_get("/menus", menus_index)
    app.router.add_get("/menus/{name}", menu_editor)
    app.router.add_post("/menus/{name}/screens/{screen}/texts", edit_texts)
    app.router.add_post("/menus/{name}/structure", structure)
    app.router.add_post("/menus/{name}/simulator", simulator)
    app.router.add_get("/menus/{name}/versions", versions)
    app.router.add_post("/menus/{name}/versions/{version}/publish", publish)
    app.router.add_post("/menus/{name}/versions/{version}/rollback", rollback)
    app.router.add_get("/menus/{name}/versions/{version}/export", export)
    app.router.add_post("/menus/{name}/import", import_yaml)
