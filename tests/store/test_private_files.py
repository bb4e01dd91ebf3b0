"""The SQLite file, its -wal and -shm, and the data folder are private to the gateway."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

from gateway.store.private_files import private_folder
from gateway.store.sql_store import SQLStore
from tests.audit_support import seal_at


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


async def test_a_new_database_and_its_companions_are_0600_in_a_0700_folder(
    tmp_path: Path,
) -> None:
    previous = os.umask(0o022)  # a common, permissive umask
    try:
        folder = tmp_path / "var"
        private_folder(folder)
        store = await SQLStore.open(folder / "gateway.db", seal_at(folder))
        await store.append_audit("test", "write", "x", {}, 1.0)  # the WAL gets pages
        names = {path.name: mode(path) for path in folder.iterdir()}
        await store.close()
    finally:
        os.umask(previous)
    assert mode(folder) == 0o700
    assert names["gateway.db"] == 0o600
    assert names.get("gateway.db-wal", 0o600) == 0o600
    assert names.get("gateway.db-shm", 0o600) == 0o600
    assert "gateway.db-wal" in names


async def test_looser_modes_are_tightened_at_start_with_a_log_line(tmp_path: Path) -> None:
    folder = tmp_path / "var"
    folder.mkdir()
    store = await SQLStore.open(folder / "gateway.db", seal_at(folder))
    await store.close()
    folder.chmod(0o755)
    (folder / "gateway.db").chmod(0o644)
    # The log lines as structlog emits them, whatever an earlier test configured it to
    # write to (a command run in-process binds its own stream).
    with structlog.testing.capture_logs() as logs:
        private_folder(folder)
        store = await SQLStore.open(folder / "gateway.db", seal_at(folder))
        await store.close()
    assert mode(folder) == 0o700
    assert mode(folder / "gateway.db") == 0o600
    tightened = [e for e in logs if e["event"] == "store.permissions_tightened"]
    assert len(tightened) >= 2
