"""Audit rows know their service (migration 7), sealed in their keyed hash, on both
engines: rows written before the column keep verifying as they were hashed; a service
added to, changed on or removed from a row breaks the chain at that row; a reader's
scope shows only the rows of their services."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from gateway.store import migrations
from gateway.store.audit_chain import (
    GENESIS_HASH,
    RowContent,
    checkpoint_line,
    keyed_entry_hash,
    seal_checkpoint,
)
from gateway.store.records import AuditScope
from gateway.store.sql_store import SQLStore
from tests.audit_support import AUDIT_KEY, Log

T0 = 1_700_000_000.0


async def _rows_of_before_services(log: Log, count: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """A database at migration 6 with ``count`` keyed rows hashed as the gateway did
    before migration 7 (no service in the content), and their checkpoints."""
    before = tuple(m for m in migrations.MIGRATIONS if m.version <= 6)
    with monkeypatch.context() as patched:
        patched.setattr(migrations, "MIGRATIONS", before)
        store = await SQLStore.open(log.url)
    try:
        prev = GENESIS_HASH
        for index in range(count):
            at, details = T0 + index, {"i": index}
            row_hash = keyed_entry_hash(
                AUDIT_KEY, prev, RowContent(at, f"op{index}", "login", "console", details)
            )
            async with store.transaction("old row") as db:
                row_id = await db.fetchval(
                    "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash,"
                    " row_hash) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
                    at, f"op{index}", "login", "console", json.dumps(details), prev, row_hash,
                )  # fmt: skip
                await db.execute(
                    "UPDATE audit_head SET row_count = ?, last_id = ?", index + 1, row_id
                )
            with log.anchor.open("a") as handle:
                checkpoint = seal_checkpoint(AUDIT_KEY, index + 1, row_id, row_hash, at)
                handle.write(checkpoint_line(checkpoint) + "\n")
            prev = row_hash
        columns = await store.fetch("SELECT * FROM audit_log LIMIT 1")
        assert "service" not in [*columns[0].keys()]
    finally:
        await store.close()


async def test_old_rows_verify_as_before_and_new_rows_seal_their_service(
    log: Log, monkeypatch: pytest.MonkeyPatch
) -> None:
    await _rows_of_before_services(log, 3, monkeypatch)
    store = await log.open()  # migration 7 adds the column; the old rows are untouched
    try:
        await store.append_audit("ada", "alert.create", "broadcast:1", {}, T0 + 10, service="")
        await store.append_audit("wen", "alert.create", "broadcast:2", {}, T0 + 11, service="work")
        await store.append_audit("ada", "login", "console", {}, T0 + 12)
        check = await store.verify_audit_log()
        entries = await store.audit_entries()
    finally:
        await store.close()
    assert check.ok, check.reason
    assert check.checked == 6 and check.checkpoint is not None and check.checkpoint.rows == 6
    assert [entry.service for entry in entries] == [None, None, None, "", "work", None]


@pytest.mark.parametrize(
    ("row", "edit"),
    [
        (2, "UPDATE audit_log SET service = 'work' WHERE id = 2"),  # moved to another service
        (2, "UPDATE audit_log SET service = NULL WHERE id = 2"),  # service removed
        (1, "UPDATE audit_log SET service = '' WHERE id = 1"),  # service added to a row of none
    ],
)
async def test_a_rows_service_cannot_be_changed_unseen(log: Log, row: int, edit: str) -> None:
    store = await log.open()
    try:
        await store.append_audit("ada", "login", "console", {}, T0)
        await store.append_audit("ada", "alert.create", "broadcast:1", {}, T0 + 1, service="")
        await store.append_audit("wen", "alert.create", "broadcast:2", {}, T0 + 2, service="work")
        assert (await store.verify_audit_log()).ok
    finally:
        await store.close()
    await log.raw(edit)
    store = await log.open()
    try:
        check = await store.verify_audit_log()
    finally:
        await store.close()
    assert not check.ok and check.broken_at == row
    assert f"row {row} does not match its keyed hash" in check.reason


async def test_a_scope_shows_only_the_rows_it_lets_through(log: Log) -> None:
    store = await log.open()
    try:
        await store.append_audit("sam", "login", "console", {}, T0)
        await store.append_audit("wen", "login", "console", {}, T0 + 1)
        await store.append_audit("claimed:wen", "login_failed", "console", {}, T0 + 1.5)
        await store.append_audit("sam", "alert.create", "broadcast:1", {}, T0 + 2, service="")
        await store.append_audit("wen", "alert.create", "broadcast:2", {}, T0 + 3, service="work")
        await store.append_audit("ada", "menu_edit", "menu:x", {}, T0 + 4, service="third")

        async def seen(scope: AuditScope | None) -> list[tuple[str, str]]:
            rows = await store.audit_entries_before(None, 100, scope)
            return [(entry.actor, entry.action) for entry in reversed(rows)]

        assert len(await seen(None)) == 6
        assert await seen(AuditScope(services=("work",), own_actors=("wen", "claimed:wen"))) == [
            ("wen", "login"),
            ("claimed:wen", "login_failed"),
            ("wen", "alert.create"),
        ]
        assert await seen(AuditScope(services=("", "third"))) == [
            ("sam", "alert.create"),
            ("ada", "menu_edit"),
        ]
        assert await seen(AuditScope(unscoped=True)) == [
            ("sam", "login"),
            ("wen", "login"),
            ("claimed:wen", "login_failed"),
        ]
        assert await seen(AuditScope()) == []
        # The cursor walks a scope too: older than the newest "work" row there is none.
        newest = await store.audit_entries_before(None, 1, AuditScope(services=("work",)))
        assert await store.audit_entries_before(newest[0].id, 10, AuditScope(("work",))) == []
    finally:
        await store.close()


async def test_an_alerts_rows_carry_its_service(log: Log) -> None:
    from gateway.broadcast.alert_service import AlertDraft, AlertService

    store = await log.open()
    try:
        alerts = AlertService(store)
        draft = AlertDraft({"en": "Road closed."}, "en", ("t",), "UNHCR", "wen", T0 + 3600)
        work = await alerts.create(replace(draft, service="work"), T0)
        default = await alerts.create(draft, T0)
        await alerts.approve(work, "bob", T0 + 1)
        await alerts.send(work, "bob", T0 + 2)
        await alerts.cancel(default, "bob", T0 + 3)
        rows = await store.audit_entries()
        assert (await store.verify_audit_log()).ok
    finally:
        await store.close()
    by_subject = {(row.subject, row.action): row.service for row in rows}
    assert by_subject == {
        (f"broadcast:{work}", "alert.create"): "work",
        (f"broadcast:{default}", "alert.create"): "",
        (f"broadcast:{work}", "alert.approve"): "work",
        (f"broadcast:{work}", "alert.send"): "work",
        (f"broadcast:{default}", "alert.cancel"): "",
    }
