"""A command's run against the store (gateway.cli.store_command): the store is opened
from the settings and closed after, and a refusal is one line on stderr with status 1."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from gateway.broadcast.errors import BroadcastError
from gateway.cli.store_command import run_with_store
from gateway.settings import Settings
from gateway.store.audit_anchor import audit_seal
from gateway.store.sql_store import SQLStore, open_store
from tests.conftest import settings_with


async def test_the_work_runs_on_an_open_store_and_its_status_is_returned(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    seen: list[SQLStore] = []

    async def work(store: SQLStore) -> int:
        seen.append(store)
        await store.append_audit("tester", "checked", "the store command", {}, 1.0)
        return 7

    assert await run_with_store(settings, work) == 7
    assert len(seen) == 1
    assert capsys.readouterr().err == ""
    # The row joined the keyed chain, and the store was closed (opened again here).
    store = await open_store(settings.db_url, audit=audit_seal(settings))
    try:
        assert [row.action for row in await store.audit_entries()] == ["checked"]
        assert (await store.verify_audit_log(audit_seal(settings).anchor)).ok
    finally:
        await store.close()


async def test_a_refusal_is_one_line_and_status_1(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async def work(store: SQLStore) -> int:
        raise BroadcastError("alert 3 is not approved")

    status = await run_with_store(settings, work, (BroadcastError,), "stopped: {}; again")
    assert status == 1
    assert capsys.readouterr().err == "gateway: stopped: alert 3 is not approved; again\n"


async def test_an_error_not_named_as_a_refusal_is_not_swallowed(settings: Settings) -> None:
    async def work(store: SQLStore) -> int:
        raise KeyError("a bug")

    with pytest.raises(KeyError):
        await run_with_store(settings, work, (BroadcastError,))


async def test_a_store_that_cannot_be_opened_is_said_and_the_work_never_runs(
    settings: Settings, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    not_a_database = tmp_path / "not-a-database"
    not_a_database.write_bytes(b"this is not SQLite\x00" * 64)
    ran: list[bool] = []

    async def work(store: SQLStore) -> int:
        ran.append(True)
        return 0

    before = set(threading.enumerate())
    status = await run_with_store(settings_with(settings, DB=str(not_a_database)), work)
    assert status == 1
    assert ran == []
    err = capsys.readouterr().err
    assert err.startswith("gateway: ") and err.count("\n") == 1
    # The half-opened connection was closed: its thread would keep the command running.
    # A closed connection's thread ends just after the close is answered: wait for it,
    # a thread still alive after seconds was never told to stop.
    left = [t for t in set(threading.enumerate()) - before if not t.daemon]
    for thread in left:
        thread.join(timeout=5)
    assert [t.name for t in left if t.is_alive()] == []


def test_a_command_on_a_file_that_is_no_database_ends_with_status_1(
    settings: Settings, tmp_path: Path
) -> None:
    not_a_database = tmp_path / "not-a-database"
    not_a_database.write_bytes(b"this is not SQLite\x00" * 64)
    env = {
        **os.environ,
        "GATEWAY_DATA_DIR": str(settings.data_dir),
        "GATEWAY_DB": str(not_a_database),
    }
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "alert", "list"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    # Said once, last (after the log line tightening the file's mode), then the end.
    last = done.stderr.splitlines()[-1]
    assert last == "gateway: cannot open the database: file is not a database"
