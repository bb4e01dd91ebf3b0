"""The console mounted on the real gateway app: a version published in the console is
what the next USSD callback gets, with no restart."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.console import mount_console
from gateway.console.context import CONTEXT
from gateway.settings import Secret, Settings
from gateway.store.sqlite import SQLiteStore
from gateway.web.app import LIVE_TREE, create_app

SECRET = "mount-test-callback-secret"


async def dial(client: TestClient, session: str, text: str = "") -> str:
    response = await client.post(
        "/africastalking/ussd",
        data={
            "sessionId": session,
            "serviceCode": "*384*1#",
            "phoneNumber": "+254700000001",
            "networkCode": "63902",
            "text": text,
        },
        headers={"X-Callback-Key": SECRET},
    )
    assert response.status == 200
    return await response.text()


async def test_publish_in_the_console_changes_what_callers_get(
    backend: SQLiteStore,
    aiohttp_client: Any,
    clock: Any,
    settings: Settings,
    sign_in: Any,
    fast_passwords: Any,
) -> None:
    settings = replace(settings, callback_secret=Secret(SECRET))
    app = create_app(settings)
    console = mount_console(app, settings, backend, app[LIVE_TREE])
    console[CONTEXT].passwords = fast_passwords
    console[CONTEXT].clock = clock
    editor: TestClient = await aiohttp_client(app)
    approver = await aiohttp_client(app)

    assert (await editor.get("/console", allow_redirects=False)).headers["Location"] == "/console/"
    first = await dial(editor, "s1", "")
    assert "Safe travel info" not in await dial(editor, "s1", "1")

    token = await sign_in(editor, "eddie")
    page = await (await editor.get("/console/menus/safe-journey?screen=main")).text()
    texts = dict(re.findall(r'name="(text\.\w+)"[^>]*>([^<]*)</textarea>', page))
    await editor.post(
        "/console/menus/safe-journey/screens/main/texts",
        data={**texts, "csrf_token": token, "text.en": "Safe travel info"},
    )
    draft = (await backend.list_menu_versions("safe-journey"))[0]
    approve_token = await sign_in(approver, "april")
    await approver.post(
        f"/console/menus/safe-journey/versions/{draft.id}/publish",
        data={"csrf_token": approve_token},
    )
    assert first.startswith("CON")
    shown = await dial(editor, "s2", "")
    shown = await dial(editor, "s2", "1")  # choose English on the language screen
    assert "Safe travel info" in shown
