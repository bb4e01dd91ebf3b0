"""Publishing a draft (content or a menu): the one path the console and the command line
share, so the four-eyes rule, the validator and the audit row cannot differ between them.

Each function takes a :class:`VersionAct`: the version, the acting account (already
authenticated and allowed by its caller: the console's session, or ``--as`` on the
command line), the time and the service; it returns an outcome and knows nothing about
HTTP.

A draft is submitted for review (:func:`submit`) only when the gateway's validator
accepts it whole, with the other half (the live menus for content, the live content
for a menu), every language, every caller country; a content change is checked whole
as it is saved, and saved submitted. A publish needs the newest draft, submitted, an
approver who saved no part of it, and the validator's approval again; its audit row
names every field that changes, old and new, and the entries it serves that are stale
or never verified (the approver is warned of them, with their age).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from gateway.console import menu_draft, review
from gateway.console.content_source import ContentSource, state_of
from gateway.console.freshness import Freshness, entries_quoted, entries_served, freshness
from gateway.console.menu_check import CheckedDraft
from gateway.console.views.menu_common import draft_authors, pick
from gateway.content.document import CONTENT_VERSIONS, Document
from gateway.menu.services import ServiceMapError, build_service_map
from gateway.store.records import MenuVersion


@dataclass(frozen=True)
class VersionAct:
    """An account acting on one stored version of a menu or of the content."""

    source: ContentSource
    name: str  # the versions' name in the store: the menu's, or ``source.name``
    version_id: int
    actor: str
    now: float
    service: str = ""  # the store key of the service whose audit row this is


@dataclass(frozen=True)
class Outcome:
    published: bool
    message: str
    four_eyes: bool = False  # refused because the approver edited the draft
    version: MenuVersion | None = None


@dataclass(frozen=True)
class Submitted:
    submitted: bool
    message: str
    checked: CheckedDraft | None = None  # the validator's verdict on a menu draft
    version: MenuVersion | None = None


NOT_SUBMITTED = (
    "Not published: draft v{id} was not submitted for review "
    "(its editor submits it once the validator accepts it)."
)
NOT_NEWEST = "Only the newest draft can be published."


def baseline(
    live_document: Document, live_version: MenuVersion | None
) -> tuple[Document | None, str]:
    """What a content draft is compared with: what callers get now (the published
    version, else the shipped files), or nothing."""
    if live_version is not None:
        return live_document, f"content v{live_version.id} (live)"
    if live_document:
        return live_document, "the shipped files (live; no version published yet)"
    return None, "nothing (a first version)"


def _today(now: float) -> dt.date:
    return dt.datetime.fromtimestamp(now, dt.UTC).date()


def _draft_to_publish(versions: list[MenuVersion], act: VersionAct) -> MenuVersion | Outcome:
    """The draft ``act`` may go on to publish (newest first in ``versions``), or the
    refusal: not the newest draft, edited by the approver, or never submitted."""
    draft = pick(versions, "draft")
    if draft is None or draft.id != act.version_id:
        return Outcome(False, NOT_NEWEST)
    if act.actor in draft_authors(versions):
        return Outcome(
            False,
            "You edited this draft: another approver must publish it (four-eyes rule).",
            four_eyes=True,
        )
    if draft.submitted_at is None:
        return Outcome(False, NOT_SUBMITTED.format(id=draft.id))
    return draft


async def _newest_first(act: VersionAct) -> list[MenuVersion]:
    versions = await act.source.store.list_menu_versions(act.name)
    return sorted(versions, key=lambda v: v.id, reverse=True)


async def publish_content(act: VersionAct) -> Outcome:
    source, approver, now = act.source, act.actor, act.now
    store = source.store
    versions = await source.versions()
    draft = _draft_to_publish(versions, act)
    if isinstance(draft, Outcome):
        return draft
    state = state_of(draft)
    if state.error:
        return Outcome(False, f"Not published: {state.error}")
    checked = await source.check(state.document, f"content v{draft.id}")
    if not checked.publishable:
        first = checked.error or str(checked.problems[0])
        return Outcome(False, f"Not published: the gateway would refuse it ({first}).")
    live = await source.live()
    before, _ = baseline(live.document, live.version)
    changes = review.content_changes(before, state.document)
    fresh = freshness(state.catalogs, _today(now), source.settings.stale_after_days)
    if not await store.publish_menu_version(draft.id, approver, now):
        return Outcome(False, "Not published: it changed.")
    await store.append_audit(
        approver,
        "content_publish",
        source.target,
        {
            "version": str(draft.id),
            "author": draft.author,
            **_freshness_details(fresh),
            **review.audit_details(changes),
        },
        now,
        service=act.service,
    )
    return Outcome(True, f"Content v{draft.id} is live.{_warning(fresh)}", version=draft)


def _freshness_details(fresh: Freshness) -> dict[str, object]:
    return {
        "unverified": len(fresh.unverified),
        "stale": len(fresh.stale),
        "warned": fresh.lines()[:50],
    }


def _warning(fresh: Freshness) -> str:
    if not fresh.count:
        return ""
    shown = fresh.lines()
    more = f"; and {len(shown) - 5} more" if len(shown) > 5 else ""
    return f" {fresh.note()} ({'; '.join(shown[:5])}{more})"


async def menu_freshness(source: ContentSource, checked: CheckedDraft, now: float) -> Freshness:
    """The stale and never-verified entries a menu's content screens serve."""
    if checked.tree is None:
        return Freshness()
    live = await source.live()
    return freshness(
        live.catalogs,
        _today(now),
        source.settings.stale_after_days,
        only=entries_served(checked.tree),
    )


async def publish_menu(act: VersionAct) -> Outcome:
    source, name, approver, now = act.source, act.name, act.actor, act.now
    store = source.store
    if name.startswith(CONTENT_VERSIONS):  # the content's versions: publish_content's
        return Outcome(False, NOT_NEWEST)
    history = await _newest_first(act)
    draft = _draft_to_publish(history, act)
    if isinstance(draft, Outcome):
        return draft
    checked = await source.check_with_live_content(name, draft.tree_yaml)
    if not checked.publishable:
        return Outcome(False, f"Not published: the draft has {len(checked.problems)} problem(s).")
    clash = service_refusal(source, name, draft.tree_yaml, checked)
    if clash:
        return Outcome(False, f"Not published: {clash}")
    fresh = await menu_freshness(source, checked, now)
    live = pick(history, "published")
    changes = review.tree_changes(live.tree_yaml if live else None, draft.tree_yaml)
    if not await store.publish_menu_version(draft.id, approver, now):
        return Outcome(False, "Not published: it changed.")
    await store.append_audit(
        approver,
        "menu_publish",
        f"menu:{name}",
        {
            "version": str(draft.id),
            "author": draft.author,
            "replaces": str(live.id) if live else "",
            **_freshness_details(fresh),
            **review.audit_details(changes),
        },
        now,
        service=act.service,
    )
    return Outcome(True, f"Version {draft.id} is live.{_warning(fresh)}", version=draft)


def service_refusal(source: ContentSource, name: str, text: str, checked: CheckedDraft) -> str:
    """Why a menu draft cannot become its service's live tree though it validates ("" when
    it can): it would answer another service's code, leave the default without its
    place, or change what the deploy fixed (another service's tree id, under which its
    subscribers and figures are kept, or its content folder)."""
    owner = source.owner(name)
    tree = checked.tree
    if tree is None or not any(s.id == owner.id for s in source.services):
        return ""
    if not owner.default:
        if tree.id != owner.id:
            return f"the tree must keep its id {owner.id!r} (the draft says {tree.id!r})."
        declared = menu_draft.parse(text).get("content") or ""
        if str(declared) != owner.content:
            return (
                f"the tree must keep its content folder {owner.content or '(shared)'!r} "
                f"(the draft says {declared or '(shared)'!r}); it is chosen by the deploy."
            )
    # A service listed without codes (down, its file unreadable) claims a code no
    # request comes on: it is not a second default.
    claims = [
        (s.id, s.id, s.codes or (() if s.default else (f"~unreadable:{s.id}",)))
        for s in source.services
    ]
    try:
        build_service_map(claims).with_codes(owner.id, tree.service_codes)
    except ServiceMapError as exc:
        return f"its service codes clash with another service's: {exc}."
    return ""


async def alert_freshness(source: ContentSource, texts: Iterable[str], now: float) -> Freshness:
    """The stale and never-verified entries an alert's text quotes (their numbers), in
    the content callers get now: approving or sending it vouches for them."""
    live = await source.live()
    quoted = entries_quoted(texts, live.catalogs)
    if not quoted:
        return Freshness()
    return freshness(live.catalogs, _today(now), source.settings.stale_after_days, only=quoted)


def warning_of(fresh: Freshness) -> str:
    """The approver's warning, naming each entry and its age ("" when none)."""
    return _warning(fresh).strip()


async def submit(act: VersionAct) -> Submitted:
    """Submit the newest draft of ``act.name`` (a menu, or the content) for review:
    refused, with the validator's problems, unless the gateway would serve it as it is."""
    source, name, who, now = act.source, act.name, act.actor, act.now
    store = source.store
    history = await _newest_first(act)
    draft = pick(history, "draft")
    if draft is None or draft.id != act.version_id:
        return Submitted(False, "Only the newest draft can be submitted for review.")
    if draft.submitted_at is not None:
        return Submitted(True, f"Draft v{draft.id} is already submitted for review.", version=draft)
    checked: CheckedDraft | None = None
    if name.startswith(CONTENT_VERSIONS):
        state = state_of(draft)
        verdict = (
            await source.check(state.document, f"content v{draft.id}") if not state.error else None
        )
        if verdict is None or not verdict.publishable:
            first = (
                state.error
                or (verdict.error if verdict else "")
                or (str(verdict.problems[0]) if verdict and verdict.problems else "")
            )
            return Submitted(False, f"Not submitted: the gateway would refuse it ({first}).")
    else:
        checked = await source.check_with_live_content(name, draft.tree_yaml)
        if not checked.publishable:
            count = len(checked.problems)
            return Submitted(
                False,
                f"Not submitted: the validator refuses draft v{draft.id} ({count} problem(s), "
                "each shown on its screen and field). Fix them, then submit again.",
                checked,
                draft,
            )
        clash = service_refusal(source, name, draft.tree_yaml, checked)
        if clash:
            return Submitted(False, f"Not submitted: {clash}", checked, draft)
    if not await store.submit_menu_version(draft.id, who, now):
        return Submitted(False, "Not submitted: it changed meanwhile.")
    content = name.startswith(CONTENT_VERSIONS)
    target = source.target if content else f"menu:{name}"
    await store.append_audit(
        who,
        "version_submit",
        target,
        {"version": str(draft.id), "author": draft.author},
        now,
        service=act.service,
    )
    return Submitted(
        True,
        f"Draft v{draft.id} submitted for review: an approver who did not edit it publishes it.",
        checked,
        draft,
    )
