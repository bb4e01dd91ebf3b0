"""``gateway user add|passwd|disable`` run as a real process against a real SQLite file
and a real PostgreSQL database; the password comes from stdin, never from the command
line."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

from gateway.console.passwords import Passwords
from gateway.store.sql_store import open_store
from tests.pg_support import postgres_database

ROOT = Path(__file__).resolve().parents[2]


def gateway(
    tmp_path: Path, *args: str, password: str = "", db: str | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT)}
    env.pop("GATEWAY_DB", None)
    if db is not None:
        env["GATEWAY_DB"] = db
    return subprocess.run(
        [sys.executable, "-m", "gateway", "user", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=60,
        check=False,
    )


async def operator(tmp_path: Path | str, username: str) -> tuple[str, str, bool] | None:
    """The account as stored: in ``tmp_path``'s SQLite file, or at a PostgreSQL URL."""
    db = tmp_path if isinstance(tmp_path, str) else str(tmp_path / "gateway.db")
    store = await open_store(db, audit=None)
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
    assert short.returncode == 1 and "at least 12 characters" in short.stderr
    role = gateway(tmp_path, "add", "eve", "--role", "boss", "--password-stdin", password="x" * 12)
    assert role.returncode == 1 and "unknown role" in role.stderr
    assert asyncio.run(operator(tmp_path, "eve")) is None


def test_there_is_no_password_option_on_the_command_line(tmp_path: Path) -> None:
    result = gateway(tmp_path, "add", "eve", "--password", "in the shell history")
    assert result.returncode == 2
    assert "unrecognized arguments" in result.stderr


async def test_accounts_go_to_postgresql_when_the_db_is_a_postgresql_url(tmp_path: Path) -> None:
    data, work = tmp_path / "data", tmp_path / "cwd"
    work.mkdir()
    async with postgres_database() as url:
        created = await asyncio.to_thread(
            gateway,
            data,
            "add",
            "pg-admin",
            "--role",
            "admin",
            "--password-stdin",
            password="postgres admin password",
            db=url,
            cwd=work,
        )
        assert created.returncode == 0, created.stderr
        record = await operator(url, "pg-admin")
        assert record is not None and record[1] == "admin"
        assert Passwords().verify(record[0], "postgres admin password")
        disabled = await asyncio.to_thread(gateway, data, "disable", "pg-admin", db=url, cwd=work)
        assert disabled.returncode == 0, disabled.stderr
        record = await operator(url, "pg-admin")
        assert record is not None and record[2] is True
    # no SQLite file anywhere, least of all one named after the URL (it holds a password)
    assert stray_files(tmp_path) == []


def stray_files(root: Path) -> list[str]:
    """Files under ``root`` other than the generated keys and the audit log's anchor
    (kept outside the database by design), and anything named after a URL."""
    found = [path.relative_to(root) for path in root.rglob("*")]
    return [
        str(path)
        for path in found
        if "postgresql" in str(path)
        or (
            (root / path).is_file() and path.suffix != ".json" and path.name != "audit-anchor.jsonl"
        )
    ]


def test_an_unreachable_postgresql_is_a_clear_error_without_the_password(tmp_path: Path) -> None:
    url = "postgresql://nobody:pw-that-must-not-leak@127.0.0.1:1/none"
    result = gateway(tmp_path, "disable", "someone", db=url, cwd=tmp_path)
    assert result.returncode == 1
    assert "cannot open the database" in result.stderr
    assert "pw-that-must-not-leak" not in result.stderr + result.stdout


def test_roles_per_service_from_the_command_line(tmp_path: Path) -> None:
    menus = tmp_path / "menus"
    menus.mkdir()
    (menus / "safe-journey.yaml").write_text(
        (ROOT / "menus" / "safe-journey.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    (menus / "work.yaml").write_text(
        "tree: work-rights\nservice_codes: ['*384*2#']\n", encoding="utf-8"
    )  # only its id and codes are read here

    def run(*args: str, password: str = "") -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "GATEWAY_DATA_DIR": str(tmp_path), "PYTHONPATH": str(ROOT),
               "GATEWAY_MENUS": str(menus)}  # fmt: skip
        env.pop("GATEWAY_DB", None)
        return subprocess.run(
            [sys.executable, "-m", "gateway", "user", *args], input=password + "\n",
            capture_output=True, text=True, env=env, cwd=ROOT, timeout=60, check=False,
        )  # fmt: skip

    async def roles(username: str) -> tuple[str, dict[str, str]]:
        store = await open_store(str(tmp_path / "gateway.db"), audit=None)
        try:
            found = await store.get_operator(username)
            assert found is not None
            return found.role, await store.service_roles(username)
        finally:
            await store.close()

    added = run("add", "carol", "--role", "none", "--service", "work-rights=approver",
                "--password-stdin", password="a long test secret 1")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "work-rights=approver" in added.stdout
    assert asyncio.run(roles("carol")) == ("none", {"work-rights": "approver"})

    changed = run("role", "carol", "safe-journey=editor", "work-rights=account")
    assert changed.returncode == 0, changed.stderr
    assert asyncio.run(roles("carol")) == ("none", {"": "editor"})  # "" is the default

    unknown = run("role", "carol", "nowhere=editor")
    assert unknown.returncode == 1 and "no service 'nowhere'" in unknown.stderr
    admin = run("role", "carol", "work-rights=admin")
    assert admin.returncode == 1 and "admins are admins everywhere" in admin.stderr
    # the old spelling still works
    plain = run(
        "add", "dora", "--role", "editor", "--password-stdin", password="a long test secret 2"
    )
    assert plain.returncode == 0, plain.stderr
    assert asyncio.run(roles("dora")) == ("editor", {})
