"""The menu editor: the outline, screen texts per language with a live budget, the
structure (add, move, delete screens and options), translations, and the simulator.

Every edit saves a new draft version (starting from the live version, or from the
shipped file when there is none), valid or not: work in progress, with the validator's
problems shown on their screen and field. The editor submits the draft for review when
the validator accepts it whole; versions, submitting and publishing are in
:mod:`gateway.console.views.menu_versions`.
"""

from __future__ import annotations

from aiohttp import web

from gateway.console import menu_draft
from gateway.console.content_source import check_menu_text, menu_source
from gateway.console.context import context, current_role, ensure_session, redirect, render
from gateway.console.menu_check import (
    budget,
    caller_views,
    menu_files,
    simulate_start,
    simulate_step,
)
from gateway.console.roles import Permission, allows
from gateway.console.security import requires
from gateway.console.service_scope import chosen_service, services_of
from gateway.console.views import menu_versions
from gateway.console.views.menu_common import (
    editor_path,
    limit_of,
    menu_name_of,
    pick,
    save_draft,
    screen_view,
    versions_of,
    working_text,
)
from gateway.menu.loader import Problem


async def menus_index(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    names = set(menu_files(ctx.settings.menus))
    # Each service's menu is its own: the chosen service's only (a file no service
    # names, in a console without the gateway's services, stays listed).
    owned = {service.menu for service in services_of(ctx) if service.menu}
    chosen = chosen_service(request)
    names = {name for name in names if name == chosen.menu or name not in owned}
    rows = []
    for name in sorted(names):
        versions = await versions_of(ctx, name)
        rows.append(
            {
                "name": name,
                "published": pick(versions, "published"),
                "draft": pick(versions, "draft"),
                "count": len(versions),
            }
        )
    return render(request, "menus.html", {"menus": rows})


async def menu_editor(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = menu_name_of(request)
    text, current = await working_text(ctx, name)
    checked = await check_menu_text(ctx, text, name)
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
    budgets = {lang: budget(checked.tree, screen_id, lang, limit_of(ctx)) for lang in languages}
    # A content screen's body comes from the catalog and is paged: show callers' pages.
    is_content = isinstance(screen, dict) and screen.get("type") == "content"
    callers = (
        {lang: caller_views(checked.tree, screen_id, lang, limit_of(ctx)) for lang in languages}
        if is_content
        else {}
    )
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
            "screen": screen_view(screen),
            "screen_ids": sorted(data["screens"]),
            "screen_types": menu_draft.SCREEN_TYPES,
            "budgets": budgets,
            "callers": callers,
            "sim": sim,
            "fields": checked.on_fields(screen_id),
            "can_edit": allows(current_role(request), Permission.EDIT),
            "catalog_error": (await menu_source(ctx, name).live()).error,
        },
    )


@requires(Permission.EDIT)
async def edit_texts(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    name = menu_name_of(request)
    screen_id = request.match_info["screen"]
    form = await request.post()
    text, _ = await working_text(ctx, name)
    texts = {k[5:]: str(v) for k, v in form.items() if k.startswith("text.")}
    labels: dict[str, dict[str, str]] = {}
    for field_name, value in form.items():
        if field_name.startswith("label."):
            _, key, lang = field_name.split(".", 2)
            labels.setdefault(key, {})[lang] = str(value)
    try:
        new_text = menu_draft.set_texts(text, screen_id, texts, labels)
    except menu_draft.DraftError as exc:
        return redirect(request, editor_path(name, screen_id), flash=f"Not saved: {exc}")
    await save_draft(request, name, new_text, f"texts of {screen_id}")
    checked = await check_menu_text(ctx, new_text, name)
    notes = [
        f"{lang}: needs {b.pages} screens (98 More)"
        for lang in texts
        if (b := budget(checked.tree, screen_id, lang, limit_of(ctx))).pages > 1
    ]
    message = "Draft saved." + (" Too long for one screen: " + "; ".join(notes) if notes else "")
    return redirect(request, editor_path(name, screen_id, str(form.get("lang", ""))), flash=message)


@requires(Permission.EDIT)
async def structure(request: web.Request) -> web.StreamResponse:
    """Add, delete and move screens and options (one form per action)."""
    ctx = context(request)
    name = menu_name_of(request)
    form = await request.post()
    action = str(form.get("action", ""))
    screen_id = str(form.get("screen", ""))
    text, _ = await working_text(ctx, name)
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
        return redirect(request, editor_path(name, screen_id), flash=f"Not changed: {exc}")
    await save_draft(request, name, new_text, f"{action} {screen_id}")
    return redirect(request, editor_path(name, go_to), flash="Draft saved.")


async def simulator(request: web.Request) -> web.StreamResponse:
    """Dial the draft (or published) tree and walk it, exactly as the engine answers."""
    ctx = context(request)
    name = menu_name_of(request)
    form = await request.post()
    text, _ = await working_text(ctx, name)
    checked = await check_menu_text(ctx, text, name)
    session = ensure_session(request)
    back = editor_path(name, str(form.get("screen", "")), str(form.get("lang", "")))
    if checked.tree is None:
        return redirect(request, back, flash="The draft does not load; fix the errors first.")
    tree = checked.tree
    sim = session.simulator.get(name) or {}
    if form.get("action") == "dial" or not sim.get("state"):
        result = simulate_start(
            tree, str(form.get("sim_lang", "")), str(form.get("country", "")).upper(), limit_of(ctx)
        )
        transcript: list[dict[str, str]] = []
    elif form.get("action") == "hangup":
        session.simulator.pop(name, None)
        return redirect(request, back)
    else:
        user_input = str(form.get("input", ""))[:160]
        result = simulate_step(tree, sim["state"], user_input, limit_of(ctx))
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


async def translations(request: web.Request) -> web.StreamResponse:
    """Every text of the tree in the fallback language beside one target language,
    missing translations first in mind (RapidPro's translation view, for USSD)."""
    ctx = context(request)
    name = menu_name_of(request)
    text, current = await working_text(ctx, name)
    data = menu_draft.parse(text)
    languages = [str(lang) for lang in data.get("languages") or ["en"]]
    fallback = str(data.get("fallback_language") or languages[0])
    targets = [lang for lang in languages if lang != fallback] or languages
    language = request.query.get("lang", targets[0])
    if language not in languages:
        language = targets[0]
    checked = await check_menu_text(ctx, text, name)
    rows = []
    for screen_id, raw in data["screens"].items():
        screen = screen_view(raw)
        if screen is None:
            continue
        rows.append(
            {
                "id": screen_id,
                "source": screen["text"].get(fallback, ""),
                "value": screen["text"].get(language, ""),
                "has_text": bool(screen["text"]),
                "budget": budget(checked.tree, screen_id, language, limit_of(ctx)),
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
    name = menu_name_of(request)
    form = await request.post()
    language = str(form.get("lang", ""))
    text, _ = await working_text(ctx, name)
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
        await save_draft(request, name, new_text, f"translations {language}")
        message = "Draft saved."
    else:
        message = "Nothing changed."
    return redirect(request, f"/menus/{name}/translations?lang={language}", flash=message)


def add_routes(app: web.Application) -> None:
    app.router.add_get("/menus", menus_index)
    app.router.add_get("/menus/{name}", menu_editor)
    app.router.add_post("/menus/{name}/screens/{screen}/texts", edit_texts)
    app.router.add_post("/menus/{name}/structure", structure)
    app.router.add_post("/menus/{name}/simulator", simulator)
    app.router.add_get("/menus/{name}/translations", translations)
    app.router.add_post("/menus/{name}/translations", save_translations)
    menu_versions.add_routes(app)
