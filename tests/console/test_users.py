"""Operator accounts from the console: admins only; every change audited and ends the
account's sessions; no admin can lock themselves out."""

from __future__ import annotations

from typing import Any

from gateway.store.sql_store import SQLStore


async def test_only_admins_manage_operators(signed_in: Any) -> None:
    april = await signed_in("april")
    assert (await april.client.get("/console/users")).status == 403
    response = await april.post(
        "/console/users",
        {
            "username": "x",
            "role": "admin",
            "password": "p" * 12,
            "confirm": "p" * 12,
        },
    )
    assert response.status == 403


async def test_admin_adds_an_operator_who_can_sign_in(backend: SQLStore, signed_in: Any) -> None:
    ada = await signed_in("ada")
    response = await ada.post(
        "/console/users",
        {
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
    backend: SQLStore, signed_in: Any
) -> None:
    editor = await signed_in("eddie")
    admin = await signed_in("ada")
    await admin.post("/console/users/eddie", {"action": "disable"})
    assert (await editor.client.get("/console/", allow_redirects=False)).status == 303
    record = await backend.get_operator("eddie")
    assert record is not None and record.disabled


async def test_admin_cannot_disable_or_demote_themselves(backend: SQLStore, signed_in: Any) -> None:
    ada = await signed_in("ada")
    for data in ({"action": "disable"}, {"action": "role", "role": "editor"}):
        response = await ada.post("/console/users/ada", data)
        assert "cannot disable or demote yourself" in await response.text()
    record = await backend.get_operator("ada")
    assert record is not None and record.role == "admin" and not record.disabled
