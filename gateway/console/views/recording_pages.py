"""Voice recordings in the console: what is missing, uploads, and publishing under four
eyes (:mod:`gateway.content.recordings`).

The page lists, for every live menu, each screen in each language that AT's ``Say``
does not read (``GATEWAY_VOICE_SAY_LANGUAGES``): what callers hear now (the published
recording, or the screen's text said in another voice when none is), and an upload
waiting for an approver. An editor uploads (checked by its bytes: MP3 or WAV, size
limit; a refusal says why); an approver who uploaded none of it listens and publishes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.console import menu_draft
from gateway.console.content_source import live_menus
from gateway.console.context import context, current_role, redirect, render, signed_in_user
from gateway.console.ports import DEFAULT_SERVICE
from gateway.console.roles import Permission, allows
from gateway.console.security import requires, sensitive
from gateway.console.service_scope import chosen_service
from gateway.content.recordings import (
    MAX_BYTES,
    PREFIX,
    SPECIAL_SCREENS,
    RecordingError,
    RecordingLibrary,
)
from gateway.store.records import MenuVersion


def library(request: web.Request) -> RecordingLibrary:
    ctx = context(request)
    return RecordingLibrary(ctx.backend, ctx.settings.recordings_dir)


@dataclass(frozen=True)
class Played:
    """One menu's screens and the languages played from recordings."""

    tree: str
    screens: tuple[str, ...]
    languages: tuple[str, ...]


def _in_scope(request: web.Request, name: str, tree: str) -> bool:
    """Whether menu ``name`` (tree ``tree``) is the chosen service's (service_scope); a
    console that lists no services serves one, and every menu is its."""
    service = chosen_service(request)
    if service == DEFAULT_SERVICE:
        return True
    return name == (service.menu or service.id) or tree == service.id


async def played_menus(request: web.Request) -> list[Played]:
    """The chosen service's menus, with the languages played from recordings."""
    say = set(context(request).settings.voice_say_languages)
    found = []
    for name, text in sorted((await live_menus(request)).items()):
        try:
            data = menu_draft.parse(text)
        except menu_draft.DraftError:
            continue
        if not _in_scope(request, name, str(data.get("tree") or name)):
            continue
        languages = tuple(str(lang) for lang in data.get("languages") or [] if str(lang) not in say)
        screens = tuple(str(screen) for screen in (data.get("screens") or {}))
        found.append(Played(str(data.get("tree") or name), screens, languages))
    return found


async def recordings_page(request: web.Request) -> web.StreamResponse:
    shelf = library(request)
    menus = []
    for menu in await played_menus(request):
        slots = await shelf.slots(menu.tree, menu.screens, menu.languages)
        menus.append((menu, slots, sum(1 for slot in slots if slot.live is None)))
    return render(
        request,
        "recordings.html",
        {
            "menus": menus,
            "say_languages": ", ".join(context(request).settings.voice_say_languages),
            "max_bytes": MAX_BYTES,
            "can_edit": allows(current_role(request), Permission.EDIT),
            "can_approve": allows(current_role(request), Permission.APPROVE),
        },
    )


def _slot_of(value: str, menus: list[Played]) -> tuple[str, str, str] | None:
    parts = value.split("/")
    if len(parts) != 3:
        return None
    tree, screen, language = parts
    for menu in menus:
        known = screen in menu.screens or screen in SPECIAL_SCREENS
        if menu.tree == tree and language in menu.languages and known:
            return tree, screen, language
    return None


@requires(Permission.EDIT)
async def upload(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    slot = _slot_of(str(form.get("slot", "")), await played_menus(request))
    if slot is None:
        return redirect(
            request, "/recordings", flash="Not saved: choose a screen and language to record."
        )
    field: Any = form.get("file")
    if field is None or not hasattr(field, "file"):
        return redirect(request, "/recordings", flash="Not saved: choose an MP3 or WAV file.")
    data = field.file.read(MAX_BYTES + 1)
    try:
        draft = await library(request).upload(
            *slot, data, signed_in_user(request), ctx.now(), chosen_service(request).key
        )
    except RecordingError as exc:
        return redirect(request, "/recordings", flash=f"Not saved: {exc}")
    _, screen, language = slot
    return redirect(
        request,
        "/recordings",
        flash=f"Uploaded as draft v{draft.id} ({screen}, {language}): callers hear it once "
        "another person, an approver, publishes it.",
    )


async def _version_in_scope(request: web.Request) -> MenuVersion:
    """The recording version the URL names, if it is one of the chosen service's."""
    raw = request.match_info["version"]
    version = await library(request).version(int(raw)) if raw.isdigit() and len(raw) < 19 else None
    if version is None:
        raise web.HTTPNotFound(text="no such recording")
    tree = version.menu_name[len(PREFIX) :].split("/")[0]
    if tree not in {menu.tree for menu in await played_menus(request)}:
        raise web.HTTPForbidden(text="This recording belongs to another service.")
    return version


@sensitive
@requires(Permission.APPROVE)
async def publish(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    version = await _version_in_scope(request)
    outcome = await library(request).publish(
        version.id, signed_in_user(request), ctx.now(), chosen_service(request).key
    )
    if outcome.four_eyes:
        return web.Response(status=403, text=outcome.message)
    return redirect(request, "/recordings", flash=outcome.message)


async def audio(request: web.Request) -> web.StreamResponse:
    """Any version's audio, for the people reviewing it (callers get published ones
    only, from the gateway's own route)."""
    found = library(request).file_of(await _version_in_scope(request))
    if found is None:
        raise web.HTTPNotFound(text="no such recording")
    return web.FileResponse(found.path, headers={"Content-Type": found.content_type})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/recordings", recordings_page)
    app.router.add_post("/recordings/upload", upload)
    app.router.add_post("/recordings/{version}/publish", publish)
    app.router.add_get("/recordings/{version}/audio", audio)
