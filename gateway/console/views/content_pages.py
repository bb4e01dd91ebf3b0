"""Content under four eyes: hotlines, safe-route alerts and warnings.

An editor drafts (a form to add, edit or retire one entry; "verified today"; a CSV
import, previewed field by field, old -> new); every change saves a new content draft
in the store, never a file. A draft is checked as a whole, with every menu, before it
is saved: a change the gateway would refuse is not saved, and its problems are shown
next to the entry and field. An approver who saved no part of the draft publishes it
(checked again), and may roll back; the gateway serves the newest published version
(:mod:`gateway.server.published`). Review and publish name every field that changes.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from gateway.console import menu_draft, publishing, review
from gateway.console.content_csv import RowError, parse_rows
from gateway.console.content_source import (
    ContentCheck,
    ContentState,
    check_content,
    content_versions,
    live_content,
    live_menus,
    source_for,
    state_of,
)
from gateway.console.context import (
    ConsoleContext,
    context,
    current_role,
    redirect,
    render,
    signed_in_user,
)
from gateway.console.freshness import freshness
from gateway.console.roles import Permission, allows
from gateway.console.security import requires, sensitive
from gateway.console.service_scope import chosen_service
from gateway.console.views.menu_common import draft_authors, pick
from gateway.console.views.version_act import version_act
from gateway.content import document as content_document
from gateway.content.catalog import ContentError
from gateway.content.document import Document
from gateway.menu.loader import Problem
from gateway.store.records import MenuVersion

HOTLINES = "hotlines"
ENTRY_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,59}$")
COUNTRY = re.compile(r"^(\*|[A-Z]{2})$")
NUMBER = re.compile(r"^\+?[0-9][0-9 ]{0,19}$")
MAX_TEXT = 1000


def _today(ctx: ConsoleContext) -> dt.date:
    return dt.datetime.fromtimestamp(ctx.now(), dt.UTC).date()


async def _languages(request: web.Request) -> list[str]:
    ctx = context(request)
    found: list[str] = []
    for text in (await live_menus(request)).values():
        try:
            languages = menu_draft.parse(text).get("languages") or []
        except menu_draft.DraftError:
            continue
        found += [str(lang) for lang in languages if str(lang) not in found]
    return found or [ctx.settings.default_language]


@dataclass
class Working:
    """What an edit starts from: the open draft, else the live content."""

    document: Document
    draft: MenuVersion | None
    live: ContentState
    versions: list[MenuVersion]


async def _working(request: web.Request) -> Working:
    versions = await content_versions(request)
    live = await live_content(request)
    draft = pick(versions, "draft")
    if draft is not None:
        state = state_of(draft)
        if not state.error:
            return Working(state.document, draft, live, versions)
    return Working(live.document, None, live, versions)


def _field_problems(check: ContentCheck, entry_id: str) -> dict[str, list[str]]:
    """The validator's problems that concern one entry, by form field (``text.fr``...);
    the rest under ``""``."""
    fields: dict[str, list[str]] = {}
    if check.error:
        fields.setdefault("", []).append(check.error)
    for problem in check.problems:
        message = str(problem)
        language = re.search(r"\[(\w+)\]|no '(\w+)' translation", problem.message)
        lang = (language.group(1) or language.group(2)) if language else ""
        if (f"'{entry_id}'" in problem.message and lang) or (
            lang and problem.message.startswith(f"[{lang}]")
        ):
            fields.setdefault(f"text.{lang}", []).append(message)
        else:
            fields.setdefault("", []).append(message)
    return fields


async def _save_draft(
    request: web.Request, document: Document, what: str, changes: list[review.FieldChange]
) -> MenuVersion:
    ctx = context(request)
    user = signed_in_user(request)
    source = source_for(request)
    # Every content change is checked whole before it is saved: saved, it is submitted.
    draft: MenuVersion = await ctx.backend.create_menu_version(
        source.name, content_document.dump(document), user, ctx.now(), submitted=True
    )
    await ctx.backend.append_audit(
        user,
        "content_edit",
        source.target,
        {
            "version": str(draft.id),
            "change": what,
            **review.audit_details(changes),
        },
        ctx.now(),
        service=chosen_service(request).key,
    )
    return draft


# -- the content page ------------------------------------------------------------------


async def _page_values(request: web.Request, **extra: Any) -> dict[str, Any]:
    ctx = context(request)
    working = await _working(request)
    live = working.live
    today = _today(ctx)
    return {
        "catalogs": sorted(live.catalogs.items()),
        "live": live,
        "draft": working.draft,
        "fresh": freshness(live.catalogs, today, ctx.settings.stale_after_days),
        "stale_after_days": ctx.settings.stale_after_days,
        "error": live.error,
        "languages": await _languages(request),
        "preview": None,
        "csv_text": "",
        "can_edit": allows(current_role(request), Permission.EDIT),
        **extra,
    }


async def content_page(request: web.Request) -> web.StreamResponse:
    chosen = chosen_service(request)
    if not source_for(request).own and not chosen.default:
        # It shares the default service's content: edited with the default chosen.
        return render(request, "content_elsewhere.html", {"service": chosen})
    return render(request, "content.html", await _page_values(request))


# -- one entry: add, edit, retire, verified today ----------------------------------------


def _kind_of(request: web.Request, working: Working) -> str:
    kind = request.match_info["kind"]
    if kind not in working.document:
        raise web.HTTPNotFound(text="no such catalog")
    return kind


def _form_values(entry: dict[str, Any] | None, languages: list[str]) -> dict[str, str]:
    entry = entry or {}
    values = {
        "id": str(entry.get("id", "")),
        "countries": " ".join(str(c) for c in entry.get("countries") or ["*"]),
        "number": str(entry.get("number", "")),
        "source": str(entry.get("source", "")),
        "last_verified": str(entry.get("last_verified", "")),
        "verified_by": str(entry.get("verified_by", "")),
    }
    for name in ("text", "title"):
        texts = entry.get(name)
        for language in languages:
            values[f"{name}.{language}"] = (
                str(texts.get(language, "")) if isinstance(texts, dict) else ""
            )
    return values


async def entry_form(request: web.Request) -> web.StreamResponse:
    working = await _working(request)
    kind = _kind_of(request, working)
    entry_id = request.match_info.get("entry", "")
    entry = content_document.entry_of(working.document, kind, entry_id) if entry_id else None
    if entry_id and entry is None:
        raise web.HTTPNotFound(text="no such entry")
    languages = await _languages(request)
    return render(
        request,
        "content_entry.html",
        {
            "kind": kind,
            "entry_id": entry_id,
            "values": _form_values(entry, languages),
            "languages": languages,
            "errors": {},
            "draft": working.draft,
            "can_edit": allows(current_role(request), Permission.EDIT),
        },
    )


def _entry_from_form(
    form: Any, kind: str, entry_id: str, old: dict[str, Any] | None, languages: list[str]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    errors: dict[str, list[str]] = {}

    def bad(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    new_id = entry_id or str(form.get("id", "")).strip()
    if not ENTRY_ID.match(new_id):
        bad("id", "lower-case letters, digits, '-' or '_' (at most 60)")
    countries = str(form.get("countries", "*")).upper().split() or ["*"]
    if not all(COUNTRY.match(c) for c in countries):
        bad("countries", "two-letter country codes separated by spaces, or *")
    number = str(form.get("number", "")).strip()
    if number and not NUMBER.match(number):
        bad("number", "digits and spaces, optionally starting with + (at most 20)")
    if kind == HOTLINES and not number:
        bad("number", "a hotline needs its number")
    source = str(form.get("source", "")).strip()
    if not source:
        bad("source", "say where this comes from (who published it)")
    verified = str(form.get("last_verified", "")).strip()
    try:
        verified = dt.date.fromisoformat(verified).isoformat()
    except ValueError:
        bad("last_verified", "a date as YYYY-MM-DD")
    texts: dict[str, dict[str, str]] = {"text": {}, "title": {}}
    for name in texts:
        for language in languages:
            value = str(form.get(f"{name}.{language}", "")).replace("\r\n", "\n").strip()
            if len(value) > MAX_TEXT:
                bad(f"{name}.{language}", f"at most {MAX_TEXT} characters")
            if value:
                texts[name][language] = value
    if not texts["text"]:
        bad(f"text.{languages[0]}", "the entry needs a text")
    entry: dict[str, Any] = dict(old or {})  # keeps fields the form does not show (review)
    entry.update(
        {
            "id": new_id,
            "countries": countries,
            "title": texts["title"] or dict(texts["text"]),
            "text": texts["text"],
            "source": source,
            "last_verified": verified,
        }
    )
    if number:
        entry["number"] = number
    else:
        entry.pop("number", None)
    verified_by = str(form.get("verified_by", "")).strip()
    if verified_by:
        entry["verified_by"] = verified_by
    else:
        entry.pop("verified_by", None)
    return entry, errors


@requires(Permission.EDIT)
async def save_entry(request: web.Request) -> web.StreamResponse:
    working = await _working(request)
    kind = _kind_of(request, working)
    entry_id = request.match_info.get("entry", "")
    form = await request.post()
    old = content_document.entry_of(working.document, kind, entry_id) if entry_id else None
    if entry_id and old is None:
        raise web.HTTPNotFound(text="no such entry")
    languages = await _languages(request)
    entry, errors = _entry_from_form(form, kind, entry_id, old, languages)
    if not entry_id and content_document.entry_of(working.document, kind, entry["id"]):
        errors.setdefault("id", []).append("an entry with this id already exists")
    new_document = working.document
    if not errors:
        new_document = content_document.put_entry(working.document, kind, entry)
        checked = await check_content(request, new_document, "this change")
        if not checked.publishable:
            errors = _field_problems(checked, entry["id"])
    if errors:
        values = {k: str(v) for k, v in form.items() if k != "csrf_token"}
        return render(
            request,
            "content_entry.html",
            {
                "kind": kind,
                "entry_id": entry_id,
                "values": {**_form_values(old, languages), **values},
                "languages": languages,
                "errors": errors,
                "draft": working.draft,
                "can_edit": True,
            },
            status=422,
        )
    changes = review.content_changes(working.document, new_document)
    if not changes:
        return redirect(request, f"/content#{kind}-{entry['id']}", flash="Nothing changed.")
    draft = await _save_draft(request, new_document, f"{kind} {entry['id']}", changes)
    return redirect(
        request,
        "/content/versions#review",
        flash=f"{entry['id']}: saved in draft {draft.id}; an approver publishes it.",
    )


@requires(Permission.EDIT)
async def retire_entry(request: web.Request) -> web.StreamResponse:
    working = await _working(request)
    kind = _kind_of(request, working)
    entry_id = request.match_info["entry"]
    try:
        new_document = content_document.retire_entry(working.document, kind, entry_id)
    except ContentError as exc:
        return redirect(request, "/content", flash=f"Not changed: {exc}")
    checked = await check_content(request, new_document, "this change")
    if not checked.publishable:
        first = checked.error or str(checked.problems[0])
        return redirect(
            request,
            f"/content#{kind}-{entry_id}",
            flash=f"Not retired: the gateway would refuse it ({first}).",
        )
    changes = review.content_changes(working.document, new_document)
    draft = await _save_draft(request, new_document, f"retire {kind} {entry_id}", changes)
    return redirect(
        request, "/content/versions#review", flash=f"{entry_id}: retired in draft {draft.id}."
    )


@requires(Permission.EDIT)
async def verify_entry(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    kind, entry_id = str(form.get("kind", "")), str(form.get("entry", ""))
    working = await _working(request)
    old = content_document.entry_of(working.document, kind, entry_id)
    if old is None:
        return redirect(request, "/content", flash=f"Not changed: no entry {entry_id!r}.")
    user = signed_in_user(request)
    entry = content_document.merged_entry(
        old, {"last_verified": _today(ctx).isoformat(), "verified_by": user}
    )
    new_document = content_document.put_entry(working.document, kind, entry)
    checked = await check_content(request, new_document, "this change")
    if not checked.publishable:
        first = checked.error or str(checked.problems[0])
        return redirect(
            request,
            f"/content#{kind}-{entry_id}",
            flash=f"Not changed: the gateway would refuse this draft ({first}).",
        )
    changes = review.content_changes(working.document, new_document)
    draft = await _save_draft(request, new_document, f"verified {kind} {entry_id}", changes)
    return redirect(
        request,
        f"/content#{kind}-{entry_id}",
        flash=f"{entry_id}: verified today, in draft {draft.id}; an approver publishes it.",
    )


# -- CSV import ----------------------------------------------------------------------


@dataclass
class ImportPreview:
    rows: int
    added: list[str]
    changes: list[tuple[str, list[review.FieldChange]]]
    errors: list[RowError]
    check: ContentCheck | None

    @property
    def can_save(self) -> bool:
        return (
            not self.errors
            and bool(self.changes)
            and self.check is not None
            and self.check.publishable
        )


@requires(Permission.EDIT)
async def import_csv(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    upload: Any = form.get("file")
    if upload is not None and hasattr(upload, "file"):
        raw = upload.file.read(600 * 1024).decode("utf-8", errors="replace")
    else:
        raw = str(form.get("csv_text", ""))
    working = await _working(request)
    rows, errors = parse_rows(raw, await _languages(request))
    new_document = working.document
    checked: ContentCheck | None = None
    if rows and not errors and HOTLINES in working.document:
        new_document = content_document.merge_rows(working.document, HOTLINES, rows)
        checked = await check_content(request, new_document, "this import")
    changes = review.content_changes(working.document, new_document)
    known = {str(e.get("id")) for e in working.document.get(HOTLINES, {}).get("entries", [])}
    result = ImportPreview(
        rows=len(rows),
        added=[str(row["id"]) for row in rows if str(row["id"]) not in known],
        changes=review.grouped(changes),
        errors=errors,
        check=checked,
    )
    if form.get("action") == "draft" and result.can_save:
        draft = await _save_draft(request, new_document, f"CSV import ({len(rows)} rows)", changes)
        return redirect(
            request,
            "/content/versions#review",
            flash=f"Imported {len(rows)} rows as draft {draft.id}; an approver publishes it.",
        )
    return render(
        request, "content.html", await _page_values(request, preview=result, csv_text=raw)
    )


# -- versions: review, publish, roll back, export ----------------------------------------


def _baseline(working: Working) -> tuple[Document | None, str]:
    return publishing.baseline(working.live.document, working.live.version)


async def versions_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    working = await _working(request)
    draft = working.draft
    baseline, against = _baseline(working)
    checked = changes = None
    everything = 0
    fresh = None
    if draft is not None:
        checked = await check_content(request, working.document, f"content v{draft.id}")
        changes = review.grouped(review.content_changes(baseline, working.document))
        everything = len(review.content_changes(None, working.document))
        try:
            catalogs = content_document.catalogs(working.document, f"content v{draft.id}")
            fresh = freshness(catalogs, _today(ctx), ctx.settings.stale_after_days)
        except ContentError:
            fresh = None
    return render(
        request,
        "content_versions.html",
        {
            "versions": working.versions,
            "draft": draft,
            "against": against,
            "checked": checked,
            "review": changes or [],
            "everything": everything,
            "fresh": fresh,
            "stale_after_days": ctx.settings.stale_after_days,
            "draft_authors": draft_authors(working.versions),
            "can_approve": allows(current_role(request), Permission.APPROVE),
            "can_edit": allows(current_role(request), Permission.EDIT),
            "submitted": draft is not None and draft.submitted_at is not None,
            "publish_url": f"/content/versions/{draft.id}/publish" if draft else "",
            "submit_url": f"/content/versions/{draft.id}/submit" if draft else "",
            "kinds": sorted(working.document),
        },
    )


async def _version_of(request: web.Request) -> MenuVersion:
    raw = request.match_info["version"]
    version = await context(request).backend.get_menu_version(int(raw)) if raw.isdigit() else None
    if version is None or version.menu_name != source_for(request).name:
        raise web.HTTPNotFound(text="no such version")
    found: MenuVersion = version
    return found


async def _go_live(request: web.Request) -> None:
    hook = context(request).hooks.content_changed
    if hook is not None:
        await hook(chosen_service(request).id)


@sensitive
@requires(Permission.APPROVE)
async def publish(request: web.Request) -> web.StreamResponse:
    version = await _version_of(request)
    outcome = await publishing.publish_content(version_act(request, source_for(request), version))
    if outcome.four_eyes:
        return web.Response(status=403, text=outcome.message)
    if outcome.published:
        await _go_live(request)
    return redirect(request, "/content/versions", flash=outcome.message)


@requires(Permission.EDIT)
async def submit(request: web.Request) -> web.StreamResponse:
    """Submit a content draft saved before submission existed (every change saved since
    is checked whole and saved submitted): refused unless the validator accepts it."""
    version = await _version_of(request)
    outcome = await publishing.submit(version_act(request, source_for(request), version))
    return redirect(request, "/content/versions#review", flash=outcome.message)


@sensitive
@requires(Permission.APPROVE)
async def rollback(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    user = signed_in_user(request)
    old = await _version_of(request)
    if old.state == "draft":
        return redirect(request, "/content/versions", flash="Roll back to a published one.")
    state = state_of(old)
    checked = (
        await check_content(request, state.document, f"content v{old.id}")
        if not state.error
        else None
    )
    if checked is None or not checked.publishable:
        return redirect(
            request,
            "/content/versions",
            flash=f"Version {old.id} no longer validates with the menus; not rolled back.",
        )
    live = await live_content(request)
    changes = review.content_changes(live.document or None, state.document)
    source = source_for(request)
    copy = await ctx.backend.create_menu_version(source.name, old.tree_yaml, old.author, ctx.now())
    if not await ctx.backend.publish_menu_version(copy.id, user, ctx.now()):
        return redirect(request, "/content/versions", flash="Not rolled back.")
    await ctx.backend.append_audit(
        user,
        "content_rollback",
        source.target,
        {
            "version": str(copy.id),
            "copy_of": str(old.id),
            **review.audit_details(changes),
        },
        ctx.now(),
        service=chosen_service(request).key,
    )
    await _go_live(request)
    return redirect(
        request,
        "/content/versions",
        flash=f"Rolled back: content v{copy.id} (a copy of v{old.id}) is live.",
    )


async def export(request: web.Request) -> web.StreamResponse:
    version = await _version_of(request)
    state = state_of(version)
    kind = request.query.get("kind", HOTLINES)
    if state.error or kind not in state.document:
        raise web.HTTPNotFound(text="no such catalog in this version")
    return web.Response(
        text=content_document.export_catalog(state.document, kind),
        content_type="application/x-yaml",
        charset="utf-8",
        headers={"Content-Disposition": f'attachment; filename="{kind}-v{version.id}.yaml"'},
    )


def problems_text(problems: list[Problem]) -> list[str]:
    return [str(problem) for problem in problems]


def add_routes(app: web.Application) -> None:
    app.router.add_get("/content", content_page)
    app.router.add_post("/content/verify", verify_entry)
    app.router.add_post("/content/import", import_csv)
    app.router.add_get("/content/entries/{kind}/new", entry_form)
    app.router.add_post("/content/entries/{kind}/new", save_entry)
    app.router.add_get("/content/entries/{kind}/{entry}", entry_form)
    app.router.add_post("/content/entries/{kind}/{entry}", save_entry)
    app.router.add_post("/content/entries/{kind}/{entry}/retire", retire_entry)
    app.router.add_get("/content/versions", versions_page)
    app.router.add_post("/content/versions/{version}/publish", publish)
    app.router.add_post("/content/versions/{version}/submit", submit)
    app.router.add_post("/content/versions/{version}/rollback", rollback)
    app.router.add_get("/content/versions/{version}/export", export)
