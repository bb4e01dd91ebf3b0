"""Operator accounts from the console: admins only; every change audited and ends the
account's sessions; no admin can lock themselves out."""

from __future__ import annotations

from typing import Any

from aiohttp.test_utils import TestClient

from gateway.settings import Settings
from gateway.store.sql_store import SQLStore


async def test_only_admins_manage_operators(client: TestClient, sign_in: Any) -> None:
    token = await sign_in(client, "april")
    assert (await client.get("/console/users")).status == 403
    response = await client.post(
        "/console/users",
        data={
            "csrf_token": token,
            "username": "x",
            "role": "admin",
            "password": "p" * 12,
            "confirm": "p" * 12,
        },
    )
    assert response.status == 403


async def test_admin_adds_an_operator_who_can_sign_in(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    token = await sign_in(client, "ada")
    response = await client.post(
        "/console/users",
        data={
            "csrf_token": token,
            "username": "nadia",
            "role": "approver",
            "password": "a fine password",
            "confirm": "a fine password",
        },
    )
    assert "nadia can now sign in as approver" in await response.text()
    created = await backend.get_operator("nadia")
    assert created is not None and created.password_hash.startswith("$argon2id$")
    assert (await backend.audit_entries())[-1].action == "user_add"


async def test_disabling_ends_the_operators_session_at_once(
    aiohttp_client: Any,
    backend: SQLStore,
    clock: Any,
    settings: Settings,
    app_factory: Any,
    sign_in: Any,
) -> None:
    app = app_factory(backend, clock, settings)
    admin, editor = await aiohttp_client(app), await aiohttp_client(app)
    await sign_in(editor, "eddie")
    token = await sign_in(admin, "ada")
    await admin.post("/console/users/eddie", data={"csrf_token": token, "action": "disable"})
    assert (await editor.get("/console/", allow_redirects=False)).status == 303
    record = await backend.get_operator("eddie")
    assert record is not None and record.disabled


async def test_admin_cannot_disable_or_demote_themselves(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    token = await sign_in(client, "ada")
    for data in ({"action": "disable"}, {"action": "role", "role": "editor"}):
        response = await client.post("/console/users/ada", data={"csrf_token": token, **data})
        assert "cannot disable or demote yourself" in await response.text()
    record = await backend.get_operator("ada")
    assert record is not None and record.role == "admin" and not record.disabled
