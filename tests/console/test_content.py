"""Content under four eyes: every change is a draft in the store (never a file), checked
with the menus before it is saved; an approver who did not edit it publishes; review
and audit name entry, field, old and new value; an import keeps what it does not
mention; unverified entries are counted as such."""

from __future__ import annotations

import html
from typing import Any

from gateway.console.freshness import freshness
from gateway.console.ports import ConsoleHooks
from gateway.content import document as content_document
from gateway.content.catalog import load_catalogs
from gateway.content.document import CONTENT_VERSIONS
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore

ONLY_ENGLISH = 'id,text_en\nke-116,"Kenya child helpline: 116, free of charge"\n'


async def _draft(backend: SQLStore) -> content_document.Document:
    versions = await backend.list_menu_versions(CONTENT_VERSIONS)
    assert versions, "no content draft was saved"
    newest = max(versions, key=lambda v: v.id)
    return content_document.parse(newest.tree_yaml, "draft")


async def test_a_csv_with_only_english_keeps_every_other_translation(
    backend: SQLStore, settings: Settings, signed_in: Any
) -> None:
    files_before = {p.name: p.read_text() for p in settings.content.glob("*.yaml")}
    eddie = await signed_in("eddie")
    response = await eddie.post(
        "/console/content/import", {"action": "preview", "csv_text": ONLY_ENGLISH}
    )
    page = await response.text()
    assert response.status == 200
    assert "The validator accepts the result" in page
    assert "Kenya child helpline: 116, free</td>" in page  # old -> new, per language
    assert await backend.list_menu_versions(CONTENT_VERSIONS) == []  # a preview saves nothing
    response = await eddie.post(
        "/console/content/import", {"action": "draft", "csv_text": ONLY_ENGLISH}
    )
    assert "as draft" in await response.text()
    entry = content_document.entry_of(await _draft(backend), "hotlines", "ke-116")
    assert entry is not None
    assert entry["text"]["en"] == "Kenya child helpline: 116, free of charge"
    assert entry["text"]["fr"] == "Kenya, ligne d'aide aux enfants: 116, gratuit"
    assert set(entry["text"]) == {"en", "fr", "ar", "so"}
    assert entry["number"] == "116" and entry["source"].startswith("Childline Kenya")
    # The running server never writes the seed files.
    assert {p.name: p.read_text() for p in settings.content.glob("*.yaml")} == files_before


async def test_an_editors_hotline_change_waits_for_another_person(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    went_live: list[str] = []

    async def content_hook(service: str) -> None:
        went_live.append(service)

    app = app_factory(backend, clock, settings, ConsoleHooks(content_changed=content_hook))
    editor = await signed_in("eddie", app)
    form = await editor.page("/console/content/entries/hotlines/ke-999")
    assert 'value="999"' in form
    fields = {
        "countries": "KE",
        "number": "112",
        "source": "National Police Service Kenya, emergency numbers 999/112",
        "last_verified": "2026-11-24",
        "verified_by": "",
        "text.en": "Kenya emergency: 112",
        "text.fr": "Kenya, urgences: 112",
        "text.ar": "كينيا، الطوارئ: 112",
        "text.so": "Kenya, gurmad degdeg ah: 112",
    }
    response = await editor.post("/console/content/entries/hotlines/ke-999", fields)
    assert response.status == 200, await response.text()
    assert went_live == []  # a draft: nothing reaches callers
    assert (await editor.client.get("/console/content/versions")).status == 200
    draft = (await backend.list_menu_versions(CONTENT_VERSIONS))[0]
    assert draft.state == "draft" and draft.author == "eddie"
    # The editor cannot publish (role), nor can anyone who edited the draft.
    refused = await editor.post(f"/console/content/versions/{draft.id}/publish")
    assert refused.status == 403
    admin = await signed_in("ada", app)
    await admin.post("/console/content/entries/hotlines/ke-116/retire")
    newest = (await backend.list_menu_versions(CONTENT_VERSIONS))[0]
    own = await admin.post(f"/console/content/versions/{newest.id}/publish")
    assert own.status == 403 and "four-eyes" in await own.text()
    assert went_live == []

    approver = await signed_in("april", app)
    review = await approver.page("/console/content/versions")
    assert "hotlines ke-999" in review
    assert '<td data-label="Old" class="old" dir="auto">999</td>' in review
    assert '<td data-label="New" class="new" dir="auto">112</td>' in review
    assert "The validator accepts it" in review
    assert "no operator has verified" in review  # the sample entries, honestly counted
    published = await approver.post(f"/console/content/versions/{newest.id}/publish")
    assert "is live" in await published.text()
    assert "Warning" in await published.text()
    assert went_live == ["default"]  # the service whose content it is
    row = next(e for e in await backend.audit_entries() if e.action == "content_publish")
    assert row.actor == "april"
    changes = row.details["changes"]
    assert isinstance(changes, list)
    assert {"entry": "hotlines ke-999", "field": "number", "old": "999", "new": "112"} in changes
    live = await backend.published_menu(CONTENT_VERSIONS)
    assert live is not None and live.id == newest.id


async def test_a_change_the_gateway_would_refuse_is_not_saved_and_shown_at_its_field(
    backend: SQLStore, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    response = await eddie.post(
        "/console/content/entries/hotlines/ke-116",
        {
            "countries": "KE",
            "number": "116",
            "source": "Childline Kenya",
            "last_verified": "not a date",
            "text.en": "Kenya child helpline: 116",
        },
    )
    page = await response.text()
    assert response.status == 422
    assert 'data-field="last_verified">a date as YYYY-MM-DD' in page
    response = await eddie.post(
        "/console/content/entries/hotlines/ke-116",
        {
            "countries": "KE",
            "number": "116",
            "source": "Childline Kenya",
            "last_verified": "2026-11-24",
            "text.en": "Kenya child helpline: 116",
            "text.fr": "Kenya, ligne d'aide aux enfants: 116",
            "text.ar": "كينيا، خط مساعدة الأطفال: 116",
            "text.so": "",  # callers who chose Somali would get nothing: refused
        },
    )
    page = await response.text()
    assert response.status == 422
    assert 'data-field="text.so"' in page
    assert await backend.list_menu_versions(CONTENT_VERSIONS) == []


async def test_sample_entries_count_as_unverified(settings: Settings) -> None:
    import datetime as dt

    catalogs = load_catalogs(settings.content)
    fresh = freshness(catalogs, dt.date(2026, 12, 1), 90)
    unverified = {entry.id for _, entry, _ in fresh.unverified}
    assert "ke-999" in unverified and "sea-crossing" in unverified
    assert fresh.stale == []
    ages = {entry.id: age for _, entry, age in fresh.unverified}
    assert ages["ke-999"] == 7


async def test_the_dashboard_does_not_call_sample_entries_verified(
    signed_in: Any,
) -> None:
    page = await (await signed_in("eddie")).page("/console/")
    assert "Every entry was verified" not in page
    assert "never verified by an operator" in page


async def test_a_content_draft_publishes_only_once_submitted_and_valid(
    backend: SQLStore, clock: Any, settings: Settings, signed_in: Any
) -> None:
    """A change saved in the console is checked whole and saved submitted; a draft
    that was not (one saved before submission existed) waits for its editor's Submit,
    which the validator may refuse."""
    editor = await signed_in("eddie")
    await editor.post("/console/content/verify", {"kind": "hotlines", "entry": "ke-116"})
    saved = (await backend.list_menu_versions(CONTENT_VERSIONS))[0]
    assert (saved.submitted_by, saved.submitted_at) == ("eddie", clock.now)

    seed = content_document.read_files(settings.content)
    entry = content_document.entry_of(seed, "hotlines", "ke-999")
    assert entry is not None
    broken = content_document.put_entry(
        seed,
        "hotlines",
        {**entry, "text": {"en": "Kenya emergency: 112"}},  # fr, ar, so gone
    )
    legacy = await backend.create_menu_version(
        CONTENT_VERSIONS, content_document.dump(broken), "eddie", clock.now
    )
    approver = await signed_in("april")
    review = await approver.page("/console/content/versions")
    assert "Work in progress: not submitted for review" in review
    assert "Publish</button>" not in review
    refused = await approver.post(f"/console/content/versions/{legacy.id}/publish")
    assert "was not submitted for review" in await refused.text()
    page = await editor.page("/console/content/versions")
    assert "Submit for review</button>" in page
    submitted = await editor.post(f"/console/content/versions/{legacy.id}/submit")
    text = html.unescape(await submitted.text())
    assert submitted.status == 200 and "Not submitted: the gateway would refuse it" in text
    assert "no 'fr' translation" in text
    after = await backend.get_menu_version(legacy.id)
    assert after is not None and after.submitted_at is None and after.state == "draft"
