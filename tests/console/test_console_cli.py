"""``gateway user add|passwd|disable`` run as a real process against a real SQLite file;
the password comes from stdin, never from the command line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from gateway.console.passwords import Passwords
from gateway.store.sqlite import SQLiteStore

ROOT = Path(__file__).resolve().parents[2]


def gateway(tmp_path: Path, *args: str, password: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "gateway", "user", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=60,
        check=False,
    )


async def operator(tmp_path: Path, username: str) -> tuple[str, str, bool] | None:
    store = await SQLiteStore.open(tmp_path / "gateway.db")
    try:
        found = await store.get_operator(username)
        return None if found is None else (found.password_hash, found.role, found.disabled)
    finally:
        await store.close()


def test_add_passwd_and_disable_an_operator(tmp_path: Path) -> None:
    created = gateway(
        tmp_path,
        "add",
        "root-admin",
        "--role",
        "admin",
        "--password-stdin",
        password="first admin password",
    )
    assert created.returncode == 0, created.stderr
    record = asyncio.run(operator(tmp_path, "root-admin"))
    assert record is not None
    password_hash, role, disabled = record
    assert role == "admin" and not disabled
    assert password_hash.startswith("$argon2id$")
    assert Passwords().verify(password_hash, "first admin password")

    again = gateway(tmp_path, "add", "root-admin", "--password-stdin", password="another one!!")
    assert again.returncode == 1 and "already exists" in again.stderr

    changed = gateway(
        tmp_path, "passwd", "root-admin", "--password-stdin", password="second pass!!"
    )
    assert changed.returncode == 0, changed.stderr
    record = asyncio.run(operator(tmp_path, "root-admin"))
    assert record is not None and Passwords().verify(record[0], "second pass!!")

    assert gateway(tmp_path, "disable", "root-admin").returncode == 0
    record = asyncio.run(operator(tmp_path, "root-admin"))
    assert record is not None and record[2] is True


def test_short_password_and_unknown_role_are_refused(tmp_path: Path) -> None:
    short = gateway(tmp_path, "add", "eve", "--password-stdin", password="short")
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    role = gateway(tmp_path, "add", "eve", "--role", "boss", "--password-stdin", password="x" * 12)
    assert role.returncode == 1 and "unknown role" in role.stderr
    assert asyncio.run(operator(tmp_path, "eve")) is None


def test_there_is_no_password_option_on_the_command_line(tmp_path: Path) -> None:
    result = gateway(tmp_path, "add", "eve", "--password", "in the shell history")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr
