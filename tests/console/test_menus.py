"""The menu editor over a real store: drafts, four-eyes publishing, the simulator, the
validator's errors, versions, diff, rollback, import/export and the live swap."""

from __future__ import annotations

import html
import re
from typing import Any

import yaml

from gateway.console.ports import ConsoleHooks
from gateway.content.catalog import load_catalogs
from gateway.menu import engine
from gateway.menu.loader import load_tree_text
from gateway.menu.pages import Limit
from gateway.server.live_tree import LiveTree
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore

MENU = "safe-journey"


TEXTAREA = re.compile(r'name="text\.(\w+)"[^>]*>([^<]*)</textarea>')


async def screen_texts(operator: Any, screen: str) -> dict[str, str]:
    """The texts the editor shows for ``screen``, by language, as a browser would send them."""
    page = await operator.page(f"/console/menus/{MENU}?screen={screen}")
    found = {f"text.{lang}": html.unescape(text) for lang, text in TEXTAREA.findall(page)}
    assert "text.en" in found
    return found


async def edit_texts(operator: Any, screen: str, typed: dict[str, str], **options: Any) -> Any:
    """Save ``screen``'s texts as the editor shows them, with ``typed`` fields changed."""
    texts = await screen_texts(operator, screen)
    return await operator.post(
        f"/console/menus/{MENU}/screens/{screen}/texts", {**texts, **typed}, **options
    )


async def edit_main_text(operator: Any, english: str) -> Any:
    return await edit_texts(operator, "main", {"text.en": english}, allow_redirects=False)


async def submit(operator: Any, backend: SQLStore) -> Any:
    """The editor's Submit for review on the open draft; returns the draft."""
    draft = (await backend.list_menu_versions(MENU))[0]
    response = await operator.post(f"/console/menus/{MENU}/versions/{draft.id}/submit")
    assert "submitted for review" in await response.text()
    return await backend.get_menu_version(draft.id)


async def publish_version(operator: Any, version: int, **options: Any) -> Any:
    return await operator.post(f"/console/menus/{MENU}/versions/{version}/publish", **options)


async def test_editor_outline_lists_the_shipped_tree(signed_in: Any) -> None:
    eddie = await signed_in("eddie")
    response = await eddie.client.get(f"/console/menus/{MENU}?screen=main")
    page = await response.text()
    assert response.status == 200
    for screen in ("language", "main", "hotlines", "routes"):
        assert f"<strong>{screen}</strong>" in page
    assert "The validator accepts this tree" in page
    assert 'data-limit-gsm7="182"' in page


async def test_an_edit_saves_a_draft_by_its_author(backend: SQLStore, signed_in: Any) -> None:
    response = await edit_main_text(await signed_in("eddie"), "Safe travel info")
    assert response.status == 303
    versions = await backend.list_menu_versions(MENU)
    assert [(v.state, v.author) for v in versions] == [("draft", "eddie")]
    data = yaml.safe_load(versions[0].tree_yaml)
    assert data["screens"]["main"]["text"]["en"] == "Safe travel info"
    assert (await backend.audit_entries())[-1].action == "menu_edit"


async def test_editor_cannot_publish(backend: SQLStore, signed_in: Any) -> None:
    eddie = await signed_in("eddie")
    await edit_main_text(eddie, "Safe travel info")
    draft = (await backend.list_menu_versions(MENU))[0]
    response = await publish_version(eddie, draft.id)
    assert response.status == 403
    assert (await backend.get_menu_version(draft.id)).state == "draft"  # type: ignore[union-attr]


async def test_author_cannot_publish_own_draft(backend: SQLStore, signed_in: Any) -> None:
    ada = await signed_in("ada")  # an admin may edit and approve, not both at once
    await edit_main_text(ada, "Safe travel info")
    draft = (await backend.list_menu_versions(MENU))[0]
    response = await publish_version(ada, draft.id)
    assert response.status == 403
    assert "four-eyes" in await response.text()
    assert (await backend.get_menu_version(draft.id)).state == "draft"  # type: ignore[union-attr]


async def test_second_person_publishes_and_the_live_tree_swaps(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    from gateway.console.publish_hook import publish_to
    from gateway.server.published import PublishedFollower, read_seed

    limit = Limit(settings.screen_limit)
    catalogs = load_catalogs(settings.content)
    shipped = (settings.menus / f"{MENU}.yaml").read_text()
    live = LiveTree(load_tree_text(shipped, "shipped", catalogs))
    follower = PublishedFollower(settings, backend, live, read_seed(settings, limit))
    app = app_factory(backend, clock, settings, ConsoleHooks(publish=publish_to(follower)))
    editor = await signed_in("eddie", app)
    await edit_main_text(editor, "Safe travel info")
    draft = await submit(editor, backend)
    assert draft.submitted_by == "eddie"

    approver = await signed_in("april", app)
    response = await publish_version(approver, draft.id, allow_redirects=False)
    assert response.status == 303
    published = await backend.get_menu_version(draft.id)
    assert published is not None
    assert (published.state, published.approver) == ("published", "april")
    assert live.version == f"v{draft.id}"
    shown = engine.start(live.current, language="en", limit=limit)
    assert shown.display.text.startswith("Safe travel info")
    actions = [e.action for e in await backend.audit_entries()]
    assert "menu_publish" in actions


async def test_screen_past_its_budget_is_flagged_and_the_validator_shows_where(
    signed_in: Any,
) -> None:
    too_long = "Closing words " * 20
    response = await edit_texts(await signed_in("eddie"), "hotlines_sms", {"text.en": too_long})
    page = await response.text()
    assert "Too long for one screen" in page
    # A closing screen cannot page on: the validator's error sits on that screen.
    assert "a closing screen must fit one page" in page
    assert "cannot be submitted for review or published" in page


async def test_simulator_walks_the_draft_exactly_as_the_engine(
    settings: Settings, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    await edit_main_text(eddie, "Safe travel info")
    await eddie.post(
        f"/console/menus/{MENU}/simulator",
        {"action": "dial", "sim_lang": "fr", "screen": "main"},
    )
    response = await eddie.post(
        f"/console/menus/{MENU}/simulator",
        {"action": "send", "input": "2", "screen": "main"},
    )
    page = await response.text()
    shipped = yaml.safe_load((settings.menus / f"{MENU}.yaml").read_text())
    routes_fr = shipped["screens"]["routes"]["text"]["fr"]
    assert routes_fr in page
    # Same text as the engine gives for the same walk.
    tree = load_tree_text(
        (settings.menus / f"{MENU}.yaml").read_text(), "x", load_catalogs(settings.content)
    )
    limit = Limit(settings.screen_limit)
    first = engine.start(tree, language="fr", limit=limit)
    second = engine.step(tree, first.state, "2", limit)
    assert html.escape(second.display.text) in page


async def test_versions_diff_rollback_and_export(backend: SQLStore, signed_in: Any) -> None:
    editor = await signed_in("eddie")
    approver = await signed_in("april")
    ids = []
    for text in ("First words", "Second words"):
        await edit_main_text(editor, text)
        draft = await submit(editor, backend)
        await publish_version(approver, draft.id)
        ids.append(draft.id)
    diff = await approver.page(f"/console/menus/{MENU}/versions?a={ids[0]}&b={ids[1]}")
    assert '<span class="del">-      en: First words</span>' in diff
    assert '<span class="add">+      en: Second words</span>' in diff

    response = await approver.post(f"/console/menus/{MENU}/versions/{ids[0]}/rollback")
    assert response.status == 200
    versions = await backend.list_menu_versions(MENU)
    assert versions[0].state == "published"
    assert versions[0].tree_yaml == (await backend.get_menu_version(ids[0])).tree_yaml  # type: ignore[union-attr]
    assert [v.state for v in versions[1:]] == ["superseded", "superseded"]
    assert "menu_rollback" in [e.action for e in await backend.audit_entries()]

    exported = await approver.client.get(f"/console/menus/{MENU}/versions/{ids[1]}/export")
    assert "Second words" in await exported.text()
    assert exported.headers["Content-Disposition"].endswith(f'-v{ids[1]}.yaml"')


async def test_import_makes_a_draft_and_reports_problems(
    backend: SQLStore, settings: Settings, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    data = yaml.safe_load((settings.menus / f"{MENU}.yaml").read_text())
    data["screens"]["main"]["options"].append({"key": "7", "goto": "nowhere", "label": {"en": "X"}})
    response = await eddie.post(
        f"/console/menus/{MENU}/import", {"yaml": yaml.safe_dump(data, allow_unicode=True)}
    )
    page = await response.text()
    assert "Imported as draft" in page
    assert "links to missing screen" in page
    assert (await backend.list_menu_versions(MENU))[0].state == "draft"


async def test_an_import_with_an_alias_bomb_is_refused_and_saves_nothing(
    backend: SQLStore, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    before = await backend.list_menu_versions(MENU)
    bomb = 'a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + "".join(
        f"a{n}: &a{n} [{', '.join([f'*a{n - 1}'] * 9)}]\n" for n in range(1, 10)
    )
    assert len(bomb) <= 1024
    response = await eddie.post(f"/console/menus/{MENU}/import", {"yaml": bomb})
    page = await response.text()
    assert "Not imported" in page and "anchors (&amp;a0) are not allowed" in page
    assert await backend.list_menu_versions(MENU) == before


async def test_add_move_and_delete_screens(backend: SQLStore, signed_in: Any) -> None:
    eddie = await signed_in("eddie")
    url = f"/console/menus/{MENU}/structure"
    await eddie.post(
        url,
        {
            "action": "add_screen",
            "screen": "main",
            "key": "6",
            "label": "Shelters",
            "new_id": "shelters",
            "kind": "text",
        },
    )
    await eddie.post(url, {"action": "option_up", "screen": "main", "key": "6"})
    data = yaml.safe_load((await backend.list_menu_versions(MENU))[0].tree_yaml)
    keys = [o["key"] for o in data["screens"]["main"]["options"]]
    assert keys[-2:] == ["6", "5"]
    assert data["screens"]["shelters"]["text"] == {"en": "Shelters"}
    await eddie.post(url, {"action": "delete_screen", "screen": "shelters"})
    data = yaml.safe_load((await backend.list_menu_versions(MENU))[0].tree_yaml)
    assert "shelters" not in data["screens"]
    assert "6" not in [o["key"] for o in data["screens"]["main"]["options"]]


async def test_translations_page_fills_a_language_across_screens(
    backend: SQLStore, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    page = await eddie.page(f"/console/menus/{MENU}/translations?lang=so")
    assert "0 text(s) missing in so" in page
    response = await eddie.post(
        f"/console/menus/{MENU}/translations",
        {"lang": "so", "t.main": "", "o.main.1": "Lambarrada"},
    )
    page = await response.text()
    assert "Draft saved" in page
    assert "1 text(s) missing in so" in page
    data = yaml.safe_load((await backend.list_menu_versions(MENU))[0].tree_yaml)
    assert "so" not in data["screens"]["main"]["text"]
    assert data["screens"]["main"]["options"][0]["label"]["so"] == "Lambarrada"


async def test_a_content_screen_shows_what_callers_read_per_country_with_its_budget(
    signed_in: Any,
) -> None:
    eddie = await signed_in("eddie")
    page = await eddie.page(f"/console/menus/{MENU}?screen=hotlines&lang=fr")
    assert 'id="callers-fr"' in page
    assert "Callers from KE" in page
    assert "Kenya, urgences: 999 ou 112" in page  # drawn from the catalog, in French
    assert "Kenya emergency: 999 or 112" in page  # and in English
    assert "too long by" not in page
    assert 'data-budget="budget-fr"' not in page  # no empty box with a false budget


async def test_review_names_screen_field_and_language_for_a_first_version_and_later(
    backend: SQLStore, signed_in: Any
) -> None:
    editor = await signed_in("eddie")
    await edit_main_text(editor, "Safe travel info")
    approver = await signed_in("april")
    first = await approver.page(f"/console/menus/{MENU}/versions")
    assert "against nothing (a first version)" in first  # every field shown, as new
    assert 'data-subject="screen main"' in first and 'data-subject="screen hotlines"' in first
    assert "The validator accepts it" in first
    draft = await submit(editor, backend)
    await publish_version(approver, draft.id)
    await edit_texts(editor, "main", {"text.fr": "Voyage sûr"})
    later = await approver.page(f"/console/menus/{MENU}/versions")
    assert f"against v{draft.id}" in later
    assert 'data-subject="screen hotlines"' not in later  # only what changes
    row = re.search(
        r'<tr class="changed">\s*<td data-label="Field">text</td>\s*'
        r'<td data-label="Language">fr</td>(.*?)</tr>',
        later,
        re.S,
    )
    assert row is not None and "Voyage sûr" in row.group(1)
    publish = next(e for e in await backend.audit_entries() if e.action == "menu_publish")
    changes = publish.details["changes"]
    assert isinstance(changes, list)
    assert {
        "entry": "screen main",
        "field": "text",
        "language": "en",
        "old": "",
        "new": "Safe travel info",
    } in changes


async def test_an_invalid_draft_is_saved_as_work_in_progress_but_never_submitted(
    backend: SQLStore, signed_in: Any
) -> None:
    editor = await signed_in("eddie")
    saved = await edit_texts(editor, "hotlines_sms", {"text.en": "Closing words " * 20})
    page = await saved.text()
    assert saved.status == 200 and "Draft saved" in page  # work in progress is kept
    assert 'id="not-submitted"' in page
    assert "cannot be submitted for review or published" in page
    draft = (await backend.list_menu_versions(MENU))[0]

    refused = await editor.post(
        f"/console/menus/{MENU}/versions/{draft.id}/submit", allow_redirects=False
    )
    assert refused.status == 303
    assert "screen=hotlines_sms" in refused.headers["Location"]  # the screen at fault
    shown = await editor.page(refused.headers["Location"])
    assert "Not submitted: the validator refuses draft" in shown
    # The problem sits under the field it concerns: the English text of that screen.
    under_field = re.search(
        r'id="budget-en".*?</div>\s*<span class="field-error" role="alert">⚠ ([^<]+)</span>',
        shown,
        re.S,
    )
    assert under_field is not None
    assert "a closing screen must fit one page" in under_field.group(1)
    after = await backend.get_menu_version(draft.id)
    assert after is not None and after.submitted_at is None
    assert "version_submit" not in [e.action for e in await backend.audit_entries()]

    # Not submitted, so an approver cannot publish it either; the versions page says why.
    approver = await signed_in("april")
    review = await approver.page(f"/console/menus/{MENU}/versions")
    assert "Work in progress: not submitted for review" in review
    assert "Publish</button>" not in review
    published = await publish_version(approver, draft.id)
    assert published.status == 200
    assert "was not submitted for review" in await published.text()
    assert (await backend.get_menu_version(draft.id)).state == "draft"  # type: ignore[union-attr]


async def test_a_submitted_draft_edited_again_must_be_submitted_again(
    backend: SQLStore, signed_in: Any
) -> None:
    editor = await signed_in("eddie")
    await edit_main_text(editor, "Safe travel info")
    first = await submit(editor, backend)
    page = await editor.page(f"/console/menus/{MENU}?screen=main")
    assert 'id="submitted"' in page and "submitted for review by eddie" in page
    await edit_main_text(editor, "Safe travel information")
    newest = (await backend.list_menu_versions(MENU))[0]
    assert newest.id != first.id and newest.submitted_at is None
    # The older submission is history: it cannot be submitted or published any more.
    stale = await editor.post(f"/console/menus/{MENU}/versions/{first.id}/submit")
    assert "Only the newest draft" in await stale.text()
    approver = await signed_in("april")
    refused = await publish_version(approver, newest.id)
    assert "was not submitted for review" in await refused.text()
    await submit(editor, backend)
    done = await publish_version(approver, newest.id)
    assert "is live" in await done.text()
    row = next(e for e in await backend.audit_entries() if e.action == "version_submit")
    assert (row.actor, row.subject) == ("eddie", f"menu:{MENU}")


async def _dial_country(operator: Any, typed: str) -> str:
    """In the editor's simulator: English, Hotlines, Other country, then ``typed``."""
    url = f"/console/menus/{MENU}/simulator"
    await operator.post(url, {"action": "dial", "sim_lang": "en"})
    for reply in ("1", "1", typed):
        response = await operator.post(url, {"action": "send", "input": reply})
    return html.unescape(await response.text())


async def test_the_simulator_reads_countries_with_the_gateways_aliases(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    # Without a running gateway (hooks), the aliases file under content/, as at boot.
    aliases = settings.content / "country-aliases.yaml"
    aliases.write_text(aliases.read_text(encoding="utf-8") + "KE: [Kenia-land]\n")
    alone = await signed_in("eddie", app_factory(backend, clock, settings))
    assert "Kenya emergency: 999 or 112" in await _dial_country(alone, "kenia land")
    # Mounted on a gateway, the gateway's own aliases (those it read at its boot).
    hooks = ConsoleHooks(country_aliases=lambda: (("Jambo-land", "KE"),))
    mounted = await signed_in("eddie", app_factory(backend, clock, settings, hooks))
    assert "Kenya emergency: 999 or 112" in await _dial_country(mounted, "Jambo-land")
    assert "Country not found" in await _dial_country(mounted, "Kenia-land")
