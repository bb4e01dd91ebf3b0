"""Publishing a draft (content or a menu): the one path the console and the command line
share, so the four-eyes rule, the validator and the audit row cannot differ between them.

Each function takes the acting account's name (already authenticated and allowed to
approve by its caller: the console's session, or ``--as`` on the command line) and
returns an :class:`Outcome`; nothing here knows about HTTP. A publish needs the newest
draft, an approver who saved no part of it, and a draft the gateway's validator accepts
with the other half (the live menus for content, the live content for a menu); its
audit row names every field that changes, old and new, and how many entries are stale
or never verified.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from gateway.console import review
from gateway.console.content_source import ContentSource, state_of
from gateway.console.freshness import freshness
from gateway.console.views.menu_common import draft_authors, pick
from gateway.content.document import CONTENT_VERSIONS, Document
from gateway.store.records import MenuVersion


@dataclass(frozen=True)
class Outcome:
    published: bool
    message: str
    four_eyes: bool = False  # refused because the approver edited the draft
    version: MenuVersion | None = None


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


async def publish_content(
    source: ContentSource, version_id: int, approver: str, now: float
) -> Outcome:
    store = source.store
    versions = await source.versions()
    draft = pick(versions, "draft")
    if draft is None or draft.id != version_id:
        return Outcome(False, "Only the newest draft can be published.")
    if approver in draft_authors(versions):
        return Outcome(
            False,
            "You edited this draft: another approver must publish it (four-eyes rule).",
            four_eyes=True,
        )
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
        "content",
        {
            "version": str(draft.id),
            "author": draft.author,
            "unverified": len(fresh.unverified),
            "stale": len(fresh.stale),
            **review.audit_details(changes),
        },
        now,
    )
    note = f" {fresh.note()}" if fresh.count else ""
    return Outcome(True, f"Content v{draft.id} is live.{note}", version=draft)


async def publish_menu(
    source: ContentSource, name: str, version_id: int, approver: str, now: float
) -> Outcome:
    store = source.store
    history = sorted(await store.list_menu_versions(name), key=lambda v: v.id, reverse=True)
    draft = pick(history, "draft")
    if name == CONTENT_VERSIONS or draft is None or draft.id != version_id:
        return Outcome(False, "Only the newest draft can be published.")
    if approver in draft_authors(history):
        return Outcome(
            False,
            "You edited this draft: another approver must publish it (four-eyes rule).",
            four_eyes=True,
        )
    checked = await source.check_with_live_content(name, draft.tree_yaml)
    if not checked.publishable:
        return Outcome(False, f"Not published: the draft has {len(checked.problems)} problem(s).")
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
            **review.audit_details(changes),
        },
        now,
    )
    return Outcome(True, f"Version {draft.id} is live.", version=draft)
