"""The operator commands, run as ``python -m gateway ...`` against a SQLite file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import PROJECT_ROOT
from tests.broadcast.conftest import CALLBACK_SECRET, ENCRYPTION_KEY, HASH_KEY


def command_line(tmp_path: Path, **env: str):  # type: ignore[no-untyped-def]
    """``run(*args, password=...)``: ``python -m gateway ...`` with its data in
    ``tmp_path`` and ``env`` added to the environment."""
    environment = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": CALLBACK_SECRET,
        "GATEWAY_LOG_FORMAT": "json",
        **env,
    }

    def run(*args: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=PROJECT_ROOT,
            env=environment,
            capture_output=True,
            text=True,
            timeout=600,  # a bound on waiting: publish validates the whole tree
            input=None if password is None else password + "\n",
        )

    return run


@pytest.fixture
def gateway(tmp_path: Path):  # type: ignore[no-untyped-def]
    run = command_line(tmp_path)
    for name, role in (("alice", "editor"), ("bob", "approver"), ("ada", "admin")):
        made = run(
            "user", "add", name, "--role", role, "--password-stdin", password=PASSWORDS[name]
        )
        assert made.returncode == 0, made.stderr
    return run


PASSWORDS = {
    "alice": "editor pass phrase one 9",
    "bob": "approver pass phrase two 7",
    "ada": "admin pass phrase three 5",
}


def acting(name: str) -> tuple[str, ...]:
    return ("--as", name, "--password-stdin")


def test_alert_life_cycle_from_the_command_line(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = gateway(
        "alert", "create", "--text", "en=Police checks at the north gate today. Call 999.",
        "--text", "fr=Contrôles au portail nord aujourd'hui", "--topic", "route-alerts",
        "--source", "field team, confirmed twice", *acting("ada"), "--expires-in", "6h",
        password=PASSWORDS["ada"],
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    alert = created.stdout.strip()
    assert "sensitive words (Police)" in created.stderr
    # The author's own account may not approve, even an admin's.
    own = gateway("alert", "approve", alert, *acting("ada"), password=PASSWORDS["ada"])
    assert own.returncode == 1
    assert "someone other than its author" in own.stderr
    # A wrong password is refused before anything happens; so is an editor.
    wrong = gateway("alert", "approve", alert, *acting("bob"), password="not bob's password")
    assert wrong.returncode == 1 and "wrong username or password" in wrong.stderr
    editor = gateway("alert", "approve", alert, *acting("alice"), password=PASSWORDS["alice"])
    assert editor.returncode == 1 and "alice is editor" in editor.stderr
    nobody = gateway("alert", "approve", alert, *acting("mallory"), password="whatever it is")
    assert nobody.returncode == 1 and "wrong username or password" in nobody.stderr
    status = gateway("alert", "status", alert, "--json")
    assert json.loads(status.stdout)["state"] == "draft"
    send = gateway("alert", "send", alert, *acting("bob"), password=PASSWORDS["bob"])
    assert send.returncode == 1  # not approved
    approved = gateway("alert", "approve", alert, *acting("bob"), password=PASSWORDS["bob"])
    assert approved.returncode == 0, approved.stderr
    # It quotes the sample hotline 999, which no operator verified: the approver is told.
    assert "hotlines ke-999: never verified by an operator, dated" in approved.stderr
    status = gateway("alert", "status", alert, "--json")
    assert json.loads(status.stdout)["state"] == "approved"
    assert json.loads(status.stdout)["approver"] == "bob"
    assert json.loads(status.stdout)["author"] == "ada"
    assert json.loads(status.stdout)["audience"] == 0
    cancel = gateway("alert", "cancel", alert, *acting("alice"), password=PASSWORDS["alice"])
    assert cancel.returncode == 0, cancel.stderr
    listing = gateway("alert", "list", "--json")
    assert [item["state"] for item in json.loads(listing.stdout)] == ["cancelled"]
    verified = gateway("audit", "verify")
    assert verified.returncode == 0 and "audit chain ok" in verified.stdout
    raw = sqlite3.connect(tmp_path / "gateway.db")
    rows = raw.execute("SELECT actor, action FROM audit_log ORDER BY id").fetchall()
    raw.close()
    assert ("bob", "cli_refused") in rows and ("alice", "cli_refused") in rows
    assert ("mallory", "cli_refused") in rows
    purge = gateway("retention", "run")
    assert purge.returncode == 0 and "deleted outbox_rows=0" in purge.stdout


def test_bad_input_gets_a_clear_error(gateway) -> None:  # type: ignore[no-untyped-def]
    bad_text = gateway(
        "alert", "create", "--text", "no-equals-sign", "--topic", "hotlines",
        "--source", "s", *acting("alice"), "--expires-in", "1h",
        password=PASSWORDS["alice"],
    )  # fmt: skip
    assert bad_text.returncode == 1 and "LANG=TEXT" in bad_text.stderr
    bad_expiry = gateway(
        "alert", "create", "--text", "en=x", "--topic", "hotlines",
        "--source", "s", *acting("alice"), "--expires-in", "soon",
        password=PASSWORDS["alice"],
    )  # fmt: skip
    assert bad_expiry.returncode == 1 and "--expires-in" in bad_expiry.stderr
    unknown_topic = gateway(
        "alert", "create", "--text", "en=x", "--topic", "moon",
        "--source", "s", *acting("alice"), "--expires-at", "2099-01-01T00:00Z",
        password=PASSWORDS["alice"],
    )  # fmt: skip
    assert unknown_topic.returncode == 1 and "unknown topic" in unknown_topic.stderr
    missing = gateway("alert", "status", "42")
    assert missing.returncode == 1 and "no alert 42" in missing.stderr


def test_audit_verify_fails_on_a_tampered_log(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gateway(
        "alert", "create", "--text", "en=x", "--topic", "hotlines",
        "--source", "s", *acting("alice"), "--expires-in", "1h",
        password=PASSWORDS["alice"],
    )  # fmt: skip
    raw = sqlite3.connect(tmp_path / "gateway.db")
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'mallory'")
    raw.commit()
    raw.close()
    verified = gateway("audit", "verify")
    assert verified.returncode == 1
    assert "audit log does NOT verify: row 1 does not match its keyed hash" in verified.stderr


def test_publish_from_the_command_line_is_four_eyes_and_checks_the_account(
    gateway, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    import asyncio

    from gateway.content import document as content_document
    from gateway.content.document import CONTENT_VERSIONS
    from gateway.store.sql_store import SQLStore

    seed = content_document.read_files(PROJECT_ROOT / "content")
    entry = content_document.entry_of(seed, "hotlines", "ke-999")
    assert entry is not None
    draft = content_document.put_entry(
        seed, "hotlines", content_document.merged_entry(entry, {"number": "112"})
    )

    async def save_draft() -> int:
        store = await SQLStore.open(tmp_path / "gateway.db")
        try:
            version = await store.create_menu_version(
                CONTENT_VERSIONS, content_document.dump(draft), "bob", 0.0, submitted=True
            )
            return version.id
        finally:
            await store.close()

    version = asyncio.run(save_draft())
    own = gateway("publish", "content", *acting("bob"), password=PASSWORDS["bob"])
    assert own.returncode == 1 and "four-eyes" in own.stderr
    wrong = gateway("publish", "content", *acting("ada"), password="not ada's password")
    assert wrong.returncode == 1 and "wrong username or password" in wrong.stderr
    editor = gateway("publish", "content", *acting("alice"), password=PASSWORDS["alice"])
    assert editor.returncode == 1 and "alice is editor" in editor.stderr
    done = gateway("publish", "content", *acting("ada"), password=PASSWORDS["ada"])
    assert done.returncode == 0, done.stderr
    assert f"Content v{version} is live" in done.stdout and "Warning" in done.stdout
    raw = sqlite3.connect(tmp_path / "gateway.db")
    state = raw.execute("SELECT state, approver FROM menu_versions WHERE id = ?", (version,))
    assert state.fetchone() == ("published", "ada")
    details = raw.execute(
        "SELECT details FROM audit_log WHERE action = 'content_publish'"
    ).fetchone()
    raw.close()
    changes = json.loads(details[0])["changes"]
    assert {"entry": "hotlines ke-999", "field": "number", "old": "999", "new": "112"} in changes
