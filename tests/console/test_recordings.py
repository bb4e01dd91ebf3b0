"""Voice recordings in the console: what is missing, uploads checked by their bytes
(type and size, a sentence for each refusal, never a 500), and four eyes on publish;
audit rows name the account. (The browser walk is tests/browser/test_recordings_browser.py.)"""

from __future__ import annotations

from typing import Any

from aiohttp import FormData
from aiohttp.test_utils import TestClient

from gateway.content.recordings import MAX_BYTES, RecordingLibrary
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore

MP3 = b"ID3\x03\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x00" * 64
WAV = b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 64
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def _form(token: str, slot: str, data: bytes, filename: str = "main-ar.mp3") -> FormData:
    form = FormData()
    form.add_field("csrf_token", token)
    form.add_field("slot", slot)
    form.add_field("file", data, filename=filename, content_type="audio/mpeg")
    return form


async def _flash(client: TestClient, response: Any) -> str:
    assert response.status == 200, await response.text()
    return await response.text()


async def test_missing_screens_are_listed_for_languages_say_cannot_read(
    signed_in: Any,
) -> None:
    page = await (await signed_in("eddie")).page("/console/recordings")
    # The sample tree has fr, ar and so besides English (read by Say): 3 x (19 + 3).
    assert "66 of 66 screen recordings missing (fr, ar, so)" in page
    assert 'value="safe-journey/main/ar"' in page and 'value="safe-journey/main/en"' not in page


async def test_uploads_are_checked_by_their_bytes_with_a_sentence_for_each_refusal(
    backend: SQLStore, settings: Settings, signed_in: Any
) -> None:
    eddie = await signed_in("eddie")
    client, token = eddie.client, eddie.token
    refusals = [
        (_form(token, "safe-journey/main/ar", PNG, "looks.mp3"), "not an MP3 or WAV file"),
        (_form(token, "safe-journey/main/ar", b""), "The file is empty."),
        (
            _form(token, "safe-journey/main/ar", b"ID3" + b"\x00" * MAX_BYTES),
            f"a recording may be at most {MAX_BYTES:,}",
        ),
        (_form(token, "safe-journey/main/en", MP3), "choose a screen and language"),
        (_form(token, "safe-journey/../../etc/ar", MP3), "choose a screen and language"),
        (_form(token, "other-tree/main/ar", MP3), "choose a screen and language"),
    ]
    for form, sentence in refusals:
        response = await client.post("/console/recordings/upload", data=form)
        assert sentence in await _flash(client, response)
    assert await backend.list_menu_versions("recording:safe-journey/main/ar") == []
    assert not (settings.recordings_dir / "blobs").exists() or not any(
        (settings.recordings_dir / "blobs").iterdir()
    )
    # Over the console's body limit altogether: aiohttp's 413, not a 500.
    huge = await client.post(
        "/console/recordings/upload", data=_form(token, "safe-journey/main/ar", MP3 * 8000)
    )
    assert huge.status == 413


async def test_an_upload_is_a_draft_that_only_another_person_publishes(
    backend: SQLStore, settings: Settings, signed_in: Any
) -> None:
    editor = await signed_in("eddie")
    response = await editor.client.post(
        "/console/recordings/upload", data=_form(editor.token, "safe-journey/main/ar", WAV, "x.wav")
    )
    assert "Uploaded as draft" in await _flash(editor, response)
    shelf = RecordingLibrary(backend, settings.recordings_dir)
    slot = await shelf.slot("safe-journey", "main", "ar")
    assert slot.draft is not None and slot.live is None and slot.authors == {"eddie"}
    assert slot.draft.submitted_by == "eddie"  # checked whole on upload: up for review
    assert await shelf.published("safe-journey", "main", "ar") is None  # not heard yet
    listen = await editor.client.get(f"/console/recordings/{slot.draft.id}/audio")
    assert listen.status == 200 and listen.content_type == "audio/wav"
    assert await listen.read() == WAV
    # The editor may not publish at all; an admin who uploaded may not publish their own.
    refused = await editor.post(f"/console/recordings/{slot.draft.id}/publish")
    assert refused.status == 403
    admin = await signed_in("ada")
    mine = await admin.client.post(
        "/console/recordings/upload", data=_form(admin.token, "safe-journey/main/fr", MP3)
    )
    assert "Uploaded as draft" in await _flash(admin, mine)
    own = (await shelf.slot("safe-journey", "main", "fr")).draft
    assert own is not None
    four_eyes = await admin.post(f"/console/recordings/{own.id}/publish")
    assert four_eyes.status == 403 and "four-eyes" in await four_eyes.text()

    approver = await signed_in("april")
    page = await approver.page("/console/recordings")
    assert f"/console/recordings/{slot.draft.id}/publish" in page
    published = await approver.post(f"/console/recordings/{slot.draft.id}/publish")
    assert "is live: callers hear it" in await _flash(approver, published)
    heard = await shelf.published("safe-journey", "main", "ar")
    assert heard is not None and heard.content_type == "audio/wav"
    assert heard.path.read_bytes() == WAV
    assert "64 of 66 screen recordings missing" not in page  # before: 66 of 66
    after = await approver.page("/console/recordings")
    assert "65 of 66 screen recordings missing" in after
    entries = [e for e in await backend.audit_entries() if e.action.startswith("recording_")]
    assert [(e.actor, e.action, e.subject) for e in entries] == [
        ("eddie", "recording_upload", "recording:safe-journey/main/ar"),
        ("ada", "recording_upload", "recording:safe-journey/main/fr"),
        ("april", "recording_publish", "recording:safe-journey/main/ar"),
    ]
    assert entries[-1].details["author"] == "eddie"


async def test_an_operator_sees_and_touches_only_their_services_recordings(
    backend: SQLStore,
    clock: Any,
    settings: Settings,
    tree_dirs: Any,
    app_factory: Any,
    fast_passwords: Any,
    password: str,
    signed_in: Any,
) -> None:
    from gateway.console.ports import ConsoleHooks, ServiceInfo
    from tests.menu.test_validator import GOOD

    work = GOOD.replace("tree: tiny", "tree: work-rights\nservice_codes: ['*384*2#']")
    (tree_dirs[0] / "work.yaml").write_text(work, encoding="utf-8")
    services = [
        ServiceInfo("safe-journey", "", (), "", "safe-journey"),
        ServiceInfo("work-rights", "work-rights", ("*384*2#",), "", "work"),
    ]
    await backend.create_operator("wendy", fast_passwords.hash(password), "none", 0.0)
    await backend.set_service_role("wendy", "work-rights", "editor")
    shelf = RecordingLibrary(backend, settings.recordings_dir)
    theirs = await shelf.upload("safe-journey", "main", "ar", MP3, "eddie", 1.0)
    app = app_factory(backend, clock, settings, ConsoleHooks(services=lambda: services))
    wendy = await signed_in("wendy", app)
    page = await wendy.page("/console/recordings")
    assert 'data-tree="work-rights"' in page and 'data-tree="safe-journey"' not in page
    refused = await wendy.client.post(
        "/console/recordings/upload", data=_form(wendy.token, "safe-journey/main/ar", MP3)
    )
    assert "choose a screen and language" in await _flash(wendy, refused)
    listen = await wendy.client.get(f"/console/recordings/{theirs.id}/audio")
    assert listen.status == 403
