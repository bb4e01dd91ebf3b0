"""The keyed, anchored audit log on both engines: someone who can write the database
(triggers dropped, rows edited, deleted or re-hashed) but has not the audit key is
caught, and so is a log of before the key once upgraded."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from gateway.store.audit_anchor import AuditAnchor, AuditSeal
from gateway.store.audit_chain import (
    GENESIS_HASH,
    SWITCH_OVER_ACTION,
    RowContent,
    checkpoint_line,
    entry_hash,
    seal_checkpoint,
)
from gateway.store.port import AuditKeyMissing, StoreError
from gateway.store.sql_store import SQLStore
from tests.audit_support import AUDIT_KEY, WRONG_KEY, Log
from tests.pg_support import postgres_database
from tests.store.test_legacy_upgrade import _postgres_legacy, _sqlite_legacy

T0 = 1_700_000_000.0
PROJECT = Path(__file__).resolve().parents[2]


async def _write(log: Log, count: int) -> None:
    store = await log.open()
    try:
        for index in range(count):
            await store.append_audit(f"op{index}", "login", "console", {"i": index}, T0 + index)
    finally:
        await store.close()


async def _verify(log: Log) -> tuple[bool, int | None, str]:
    store = await log.open()
    try:
        check = await store.verify_audit_log()
    finally:
        await store.close()
    return check.ok, check.broken_at, check.reason


async def test_every_write_leaves_a_sealed_checkpoint_in_a_private_file(log: Log) -> None:
    await _write(log, 5)
    store = await log.open()
    try:
        check = await store.verify_audit_log()
        entries = await store.audit_entries()
    finally:
        await store.close()
    assert check.ok and check.checked == 5 and check.keyed_from == entries[0].id
    assert check.checkpoint is not None and check.checkpoint.rows == 5
    assert all(entry.row_hash.startswith("k1:") for entry in entries)
    assert len(log.anchor.read_text().splitlines()) == 5
    assert stat.S_IMODE(log.anchor.stat().st_mode) == 0o600


async def test_an_edited_row_is_named(log: Log) -> None:
    await _write(log, 5)
    await log.raw("UPDATE audit_log SET actor = 'mallory' WHERE id = 3")
    ok, broken_at, reason = await _verify(log)
    assert not ok and broken_at == 3
    assert "row 3 does not match its keyed hash" in reason


async def test_a_trimmed_tail_is_caught_by_the_anchor(log: Log) -> None:
    await _write(log, 6)
    await log.raw("DELETE FROM audit_log WHERE id > 4")
    store = await log.open()
    try:
        alone = await store.verify_audit_chain()  # the chain alone still links
        anchored = await store.verify_audit_log()
    finally:
        await store.close()
    assert alone.ok and alone.checked == 4
    assert not anchored.ok and anchored.broken_at is None
    assert "the log ends at row 4 (4 rows) but" in anchored.reason
    assert "(6 rows, last row 6)" in anchored.reason and "deleted from the end" in anchored.reason


async def test_a_chain_recomputed_with_plain_sha256_is_caught(log: Log) -> None:
    await _write(log, 5)
    await log.raw("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    await log.rehash("plain")
    ok, broken_at, reason = await _verify(log)
    assert not ok and broken_at == 5
    assert "row 5 is not the row the checkpoint of" in reason and "rewritten" in reason


async def test_a_chain_recomputed_with_a_wrong_key_is_caught(log: Log) -> None:
    await _write(log, 5)
    await log.raw("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
    await log.rehash("wrong key")
    ok, broken_at, reason = await _verify(log)
    assert not ok and broken_at == 1
    assert "row 1 does not match its keyed hash" in reason


async def test_a_checkpoint_forged_for_a_trimmed_log_is_refused(log: Log) -> None:
    await _write(log, 4)
    store = await log.open()
    try:
        entries = await store.audit_entries()
    finally:
        await store.close()
    await log.raw("DELETE FROM audit_log WHERE id > 2")
    # The trimmer appends a checkpoint of their own, sealed with a guessed key.
    forged = seal_checkpoint(WRONG_KEY, 2, entries[1].id, entries[1].row_hash, T0 + 9)
    with log.anchor.open("a") as handle:
        handle.write(checkpoint_line(forged) + "\n")
    ok, _, reason = await _verify(log)
    assert not ok and "deleted from the end" in reason


async def test_a_missing_or_emptied_anchor_fails_a_keyed_log(log: Log) -> None:
    await _write(log, 2)
    log.anchor.write_text("")
    ok, broken_at, reason = await _verify(log)
    assert not ok and broken_at is None and "audit-anchor.jsonl holds no checkpoint" in reason
    log.anchor.unlink()
    ok, broken_at, reason = await _verify(log)
    assert not ok and broken_at is None and "audit-anchor.jsonl is missing" in reason


async def test_without_the_key_no_audit_row_is_written(log: Log) -> None:
    await _write(log, 1)
    store = await SQLStore.open(log.url)
    try:
        with pytest.raises(AuditKeyMissing):
            await store.append_audit("op", "login", "console", {}, T0)
        # An older gateway writing unkeyed rows straight into the table is refused too.
        with pytest.raises(StoreError, match="keyed rows only"):
            async with store.transaction() as db:
                await db.execute(
                    "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, "
                    "row_hash) VALUES (?, 'old', 'login', 'console', '{}', ?, ?)",
                    T0,
                    GENESIS_HASH,
                    "f" * 64,
                )
        assert len(await store.audit_entries()) == 1
    finally:
        await store.close()


async def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32"):
        AuditSeal(b"short", None)


# -- a log of before the key ---------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
async def legacy(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Log]:
    """A database made by the old code: one unkeyed row (tests/store/legacy/ DDL)."""
    if request.param == "sqlite":
        _sqlite_legacy(tmp_path / "legacy.db")
        yield Log(str(tmp_path / "legacy.db"), tmp_path)
        return
    async with postgres_database() as url:
        await _postgres_legacy(url)
        yield Log(url, tmp_path)


async def _legacy_rows(log: Log, count: int) -> None:
    """More unkeyed rows, written as the old code wrote them (before the upgrade)."""
    rows = []
    if log.url.startswith("postgresql://"):
        raw = await asyncpg.connect(log.url)
        try:
            prev = await raw.fetchval("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1")
            for index in range(count):
                row_hash = entry_hash(
                    prev, RowContent(T0 + index, "cli", "user_add", f"op{index}", {})
                )
                await raw.execute(
                    "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, "
                    "row_hash) VALUES ($1, 'cli', 'user_add', $2, '{}', $3, $4)",
                    T0 + index,
                    f"op{index}",
                    prev,
                    row_hash,
                )
                prev = row_hash
        finally:
            await raw.close()
        return
    with sqlite3.connect(log.url) as db:
        prev = db.execute("SELECT row_hash FROM audit_log ORDER BY id DESC LIMIT 1").fetchone()[0]
        for index in range(count):
            row_hash = entry_hash(prev, RowContent(T0 + index, "cli", "user_add", f"op{index}", {}))
            rows.append((T0 + index, f"op{index}", prev, row_hash))
            prev = row_hash
        db.executemany(
            "INSERT INTO audit_log (at, actor, action, subject, details, prev_hash, row_hash) "
            "VALUES (?, 'cli', 'user_add', ?, '{}', ?, ?)",
            rows,
        )


async def test_an_old_log_is_sealed_by_a_recorded_switch_over_and_never_rehashed(
    legacy: Log,
) -> None:
    await _legacy_rows(legacy, 2)
    store = await legacy.open()
    try:
        before = await store.audit_entries()
        first = await store.verify_audit_log()  # no keyed row yet, no anchor yet
        await store.append_audit("ada", "login", "console", {}, T0 + 10)
        await store.append_audit("ada", "logout", "console", {}, T0 + 11)
        after = await store.audit_entries()
        check = await store.verify_audit_log()
    finally:
        await store.close()
    assert first.ok and first.checked == 3 and first.keyed_from is None
    assert after[:3] == before  # the old rows as they were, not re-hashed
    switch_over = after[3]
    assert switch_over.action == SWITCH_OVER_ACTION and switch_over.actor == "gateway"
    assert switch_over.details == {"legacy_rows": 3, "legacy_head": before[-1].row_hash}
    assert check.ok and check.checked == 6 and check.legacy_rows == 3
    assert check.keyed_from == switch_over.id
    assert check.checkpoint is not None and check.checkpoint.rows == 6


async def test_an_old_row_edited_after_the_upgrade_is_caught_even_rehashed(legacy: Log) -> None:
    await _legacy_rows(legacy, 2)
    store = await legacy.open()
    try:
        await store.append_audit("ada", "login", "console", {}, T0 + 10)
        entries = await store.audit_entries()
    finally:
        await store.close()
    # Rewrite who added op0, and re-hash the old (unkeyed) part so it links again.
    await legacy.raw(f"UPDATE audit_log SET actor = 'mallory' WHERE id = {entries[1].id}")
    prev, updates = GENESIS_HASH, []
    for entry in entries[:3]:
        actor = "mallory" if entry.id == entries[1].id else entry.actor
        content = RowContent(entry.at, actor, entry.action, entry.subject, entry.details)
        row_hash = entry_hash(prev, content)
        updates.append((prev, row_hash, entry.id))
        prev = row_hash
    await legacy.raw(args=updates)
    ok, broken_at, reason = await _verify(legacy)
    assert not ok and broken_at == entries[3].id and "does not link" in reason


async def test_an_old_row_broken_before_the_upgrade_stays_reported(legacy: Log) -> None:
    await _legacy_rows(legacy, 2)
    await legacy.raw("UPDATE audit_log SET subject = 'operator:mallory' WHERE id = 2")
    store = await legacy.open()
    try:
        await store.append_audit("ada", "login", "console", {}, T0 + 10)
        check = await store.verify_audit_log()
    finally:
        await store.close()
    # The switch-over seals the old rows as they are: it does not launder the edit.
    assert not check.ok and check.broken_at == 2 and "row 2 does not match its hash" in check.reason


# -- the command ---------------------------------------------------------------------


def _gateway(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(PROJECT),
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_LOG_FORMAT": "json",
    }
    env.pop("GATEWAY_AUDIT_KEY", None)
    env.pop("GATEWAY_AUDIT_ANCHOR", None)
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def test_gateway_audit_verify_says_what_holds_and_names_a_trimmed_tail(tmp_path: Path) -> None:
    data = tmp_path / "var"
    added = _gateway(
        data, "user", "add", "ada", "--role", "editor", "--password-stdin",
        stdin="a long enough pass phrase 7\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    added = _gateway(data, "user", "disable", "ada")
    assert added.returncode == 0, added.stderr
    # The checkpoint's log line (stderr, JSON) carries the whole checkpoint: the log
    # lines shipped off the machine can stand in for the anchor file.
    logged = [line for line in added.stderr.splitlines() if '"audit.checkpoint"' in line]
    assert len(logged) == 1 and json.loads(logged[0])["rows"] == 2
    (tmp_path / "from-logs.jsonl").write_text(logged[0] + "\n")
    from_logs = _gateway(data, "audit", "verify", "--anchor", str(tmp_path / "from-logs.jsonl"))
    assert from_logs.returncode == 0, from_logs.stderr
    assert "matches the checkpoint of" in from_logs.stdout
    verified = _gateway(data, "audit", "verify")
    assert verified.returncode == 0, verified.stderr
    assert "audit chain ok: 2 rows, all keyed" in verified.stdout
    assert "matches the checkpoint of" in verified.stdout
    # Someone with the database file drops the newest row.
    with sqlite3.connect(data / "gateway.db") as db:
        db.execute("DROP TRIGGER audit_log_no_delete")
        db.execute("DELETE FROM audit_log WHERE id = 2")
    trimmed = _gateway(data, "audit", "verify")
    assert trimmed.returncode == 1
    assert "audit log does NOT verify: the log ends at row 1 (1 row)" in trimmed.stderr
    assert "(2 rows, last row 2)" in trimmed.stderr
    # The chain alone, on request, cannot see it (and says so in its help).
    assert _gateway(data, "audit", "verify", "--no-anchor").returncode == 0
    # A wrong key: every keyed row fails.
    keys = data / "keys.json"
    keys.write_text(keys.read_text().replace('"AUDIT_KEY": "', '"AUDIT_KEY": "x'))
    wrong = _gateway(data, "audit", "verify", "--no-anchor")
    assert wrong.returncode == 1 and "row 1 does not match its keyed hash" in wrong.stderr


async def test_the_key_is_the_one_of_the_settings(tmp_path: Path) -> None:
    # A store written with the test key does not verify with another one.
    sqlite_log = Log(str(tmp_path / "gateway.db"), tmp_path)
    await _write(sqlite_log, 2)
    store = await SQLStore.open(sqlite_log.url, AuditSeal(WRONG_KEY, AuditAnchor(tmp_path / "x")))
    try:
        check = await store.verify_audit_chain()
    finally:
        await store.close()
    assert not check.ok and check.broken_at == 1
    assert AUDIT_KEY != WRONG_KEY
