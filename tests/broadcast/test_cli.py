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


@pytest.fixture
def gateway(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": CALLBACK_SECRET,
        "GATEWAY_LOG_FORMAT": "json",
    }

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "gateway", *args],
            cwd=PROJECT_ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )

    return run


def test_alert_life_cycle_from_the_command_line(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    created = gateway(
        "alert", "create", "--text", "en=Police checks at the north gate today",
        "--text", "fr=Contrôles au portail nord aujourd'hui", "--topic", "route-alerts",
        "--source", "field team, confirmed twice", "--author", "alice", "--expires-in", "6h",
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    alert = created.stdout.strip()
    assert "sensitive words (Police)" in created.stderr
    refused = gateway("alert", "approve", alert, "--approver", "alice")
    assert refused.returncode == 1
    assert "someone other than its author" in refused.stderr
    assert gateway("alert", "send", alert, "--operator", "bob").returncode == 1  # not approved
    assert gateway("alert", "approve", alert, "--approver", "bob").returncode == 0
    status = gateway("alert", "status", alert, "--json")
    assert json.loads(status.stdout)["state"] == "approved"
    assert json.loads(status.stdout)["audience"] == 0
    assert gateway("alert", "cancel", alert, "--operator", "bob").returncode == 0
    listing = gateway("alert", "list", "--json")
    assert [item["state"] for item in json.loads(listing.stdout)] == ["cancelled"]
    verified = gateway("audit", "verify")
    assert verified.returncode == 0 and "audit chain ok (4 rows)" in verified.stdout
    purge = gateway("retention", "run")
    assert purge.returncode == 0 and "deleted outbox_rows=0" in purge.stdout


def test_bad_input_gets_a_clear_error(gateway) -> None:  # type: ignore[no-untyped-def]
    bad_text = gateway(
        "alert", "create", "--text", "no-equals-sign", "--topic", "hotlines",
        "--source", "s", "--author", "a", "--expires-in", "1h",
    )  # fmt: skip
    assert bad_text.returncode == 1 and "LANG=TEXT" in bad_text.stderr
    bad_expiry = gateway(
        "alert", "create", "--text", "en=x", "--topic", "hotlines",
        "--source", "s", "--author", "a", "--expires-in", "soon",
    )  # fmt: skip
    assert bad_expiry.returncode == 1 and "--expires-in" in bad_expiry.stderr
    unknown_topic = gateway(
        "alert", "create", "--text", "en=x", "--topic", "moon",
        "--source", "s", "--author", "a", "--expires-at", "2099-01-01T00:00Z",
    )  # fmt: skip
    assert unknown_topic.returncode == 1 and "unknown topic" in unknown_topic.stderr
    missing = gateway("alert", "status", "42")
    assert missing.returncode == 1 and "no alert 42" in missing.stderr


def test_audit_verify_fails_on_a_tampered_log(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    gateway(
        "alert", "create", "--text", "en=x", "--topic", "hotlines",
        "--source", "s", "--author", "a", "--expires-in", "1h",
    )  # fmt: skip
    raw = sqlite3.connect(tmp_path / "gateway.db")
    raw.execute("DROP TRIGGER audit_log_no_update")
    raw.execute("UPDATE audit_log SET actor = 'mallory'")
    raw.commit()
    raw.close()
    verified = gateway("audit", "verify")
    assert verified.returncode == 1 and "BROKEN at row 1" in verified.stderr
