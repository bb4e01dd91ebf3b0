"""The console mounted on the real gateway app (its runtime's store and live tree): a
version published in the console is what the next USSD callback gets, no restart."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.console import mount_on_gateway
from gateway.console.context import CONTEXT
from gateway.console.mount import link_states_of
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Secret, Settings

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
    aiohttp_client: Any, clock: Any, settings: Settings, sign_in: Any, fast_passwords: Any
) -> None:
    settings = replace(settings, callback_secret=Secret(SECRET), sms_channel="none")
    app = await create_app(settings, broadcast_worker=False, console=False)
    store = app[RUNTIME].store
    for username, role in (("eddie", "editor"), ("april", "approver")):
        await store.create_operator(username, fast_passwords.hash("correct horse battery"), role, 0)
    console = mount_on_gateway(app)
    console[CONTEXT].passwords = fast_passwords
    console[CONTEXT].clock = clock
    editor: TestClient = await aiohttp_client(app)
    approver = await aiohttp_client(app)

    assert (await editor.get("/console", allow_redirects=False)).headers["Location"] == "/console/"
    assert (await dial(editor, "s1", "")).startswith("CON")
    assert "Safe travel info" not in await dial(editor, "s1", "1")

    token = await sign_in(editor, "eddie")
    page = await (await editor.get("/console/menus/safe-journey?screen=main")).text()
    texts = dict(re.findall(r'name="(text\.\w+)"[^>]*>([^<]*)</textarea>', page))
    await editor.post(
        "/console/menus/safe-journey/screens/main/texts",
        data={**texts, "csrf_token": token, "text.en": "Safe travel info"},
    )
    draft = (await store.list_menu_versions("safe-journey"))[0]
    submitted = await editor.post(
        f"/console/menus/safe-journey/versions/{draft.id}/submit", data={"csrf_token": token}
    )
    assert "submitted for review" in await submitted.text()
    approve_token = await sign_in(approver, "april")
    await approver.post(
        f"/console/menus/safe-journey/versions/{draft.id}/publish",
        data={"csrf_token": approve_token},
    )
    # The caller chose English in s1, so s2 opens at home: the published home screen.
    assert "Safe travel info" in await dial(editor, "s2", "")

    # A restart serves the published version, not the shipped file.
    restarted = await create_app(settings, broadcast_worker=False, console=False)
    mount_on_gateway(restarted)
    caller: TestClient = await aiohttp_client(restarted)
    await dial(caller, "s3", "")
    assert "Safe travel info" in await dial(caller, "s3", "1")


def test_link_states_from_the_smpp_pool_status() -> None:
    states = link_states_of(
        [
            {"smsc": "op-a", "bind": 0, "mode": "transceiver", "state": "bound_trx", "bound": True},
            {"smsc": "op-b", "bind": 1, "mode": "transmitter", "state": "closed", "bound": False},
        ]
    )
    assert states == {"op-a #0 (transceiver)": "bound", "op-b #1 (transmitter)": "closed"}
