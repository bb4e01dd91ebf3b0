"""The audit page says whether the hash chain verifies, and notices a tampered row."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.store.sql_store import SQLStore


async def test_audit_page_lists_sign_ins_and_verifies_the_chain(
    client: TestClient, sign_in: Any
) -> None:
    await sign_in(client, "april")
    await sign_in(client, "ada")
    page = await (await client.get("/console/audit")).text()
    assert "The chain verifies" in page
    assert "<td>april</td><td>login</td>" in page


async def test_a_tampered_row_breaks_the_chain_on_the_page(
    client: TestClient, backend: SQLStore, sign_in: Any, tmp_path: Path
) -> None:
    await sign_in(client, "april")
    await sign_in(client, "ada")
    entries = await backend.audit_entries()
    # Someone with the database file drops the append-only trigger and rewrites who
    # signed in first.
    with sqlite3.connect(tmp_path / "console.db") as db:
        db.execute("DROP TRIGGER audit_log_no_update")
        db.execute("UPDATE audit_log SET actor = 'mallory' WHERE id = ?", (entries[0].id,))
    page = await (await client.get("/console/audit")).text()
    assert "does NOT verify" in page
    assert f"entry {entries[0].id} was altered" in page


async def test_csrf_token_is_required_on_signed_in_forms(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    await sign_in(client, "eddie")
    response = await client.post(
        "/console/menus/safe-journey/screens/main/texts", data={"text.en": "Hijacked"}
    )
    assert response.status == 403
    assert await backend.list_menu_versions("safe-journey") == []


async def test_the_page_walks_the_whole_log_from_the_newest_with_a_cursor(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    for index in range(450):
        await backend.append_audit("cli", "filler", f"row {index}", {}, float(index), service="")
    await backend.append_audit(
        "cli", "user_add", "operator:backdoor-approver", {}, 1000.0, service=""
    )
    await sign_in(client, "eddie")
    page = await (await client.get("/console/audit")).text()
    # The newest rows come first: the later change is on the first page.
    assert "operator:backdoor-approver" in page
    seen = 0
    url = "/console/audit"
    import re

    while True:
        page = await (await client.get(url)).text()
        seen += page.count("<td>filler</td>")
        older = re.search(r'href="\?before=(\d+)"', page)
        if older is None:
            break
        url = f"/console/audit?before={older.group(1)}"
    assert seen == 450


async def test_rows_trimmed_from_the_end_show_on_the_page(
    client: TestClient, backend: SQLStore, sign_in: Any, tmp_path: Path
) -> None:
    await sign_in(client, "april")
    await sign_in(client, "ada")
    page = await (await client.get("/console/audit")).text()
    assert "it holds the checkpoint kept outside the database" in page
    last = (await backend.audit_entries())[-1]
    # Someone with the database file removes the newest rows: every link still holds.
    with sqlite3.connect(tmp_path / "console.db") as db:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE id >= ?", (last.id - 1,))
    page = await (await client.get("/console/audit")).text()
    assert "does NOT verify" in page
    assert "rows were deleted from the end" in page
