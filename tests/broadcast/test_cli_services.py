"""``gateway alert ... --service ID`` with two services, through the command-line entry
point against a SQLite file: the command acts on the service named (default: the
default service), checks the account's role there as the console does, and refuses an
unknown service or another service's alert with a sentence saying which."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest

from gateway.settings import PROJECT_ROOT
from tests.broadcast.test_cli import PASSWORDS, acting, command_line
from tests.menu.test_validator import GOOD

WORK_TREE = GOOD.replace("tree: tiny", "tree: work-rights\nservice_codes: ['*384*2#', '21213']")
ROLES = {
    "alice": ("editor",),  # everywhere
    "bob": ("approver",),
    "wendy": ("none", "--service", "work-rights=editor"),
    "walt": ("none", "--service", "work-rights=approver"),
}
PASSWORDS = {**PASSWORDS, "wendy": "work editor phrase four 3", "walt": "work approver five 1"}


@pytest.fixture
def gateway(tmp_path: Path):  # type: ignore[no-untyped-def]
    menus = tmp_path / "menus"
    menus.mkdir()
    shutil.copy(PROJECT_ROOT / "menus" / "safe-journey.yaml", menus)
    (menus / "work.yaml").write_text(WORK_TREE, encoding="utf-8")
    run = command_line(tmp_path, GATEWAY_MENUS=str(menus))
    for name, (role, *service) in ROLES.items():
        made = run(
            "user", "add", name, "--role", role, *service, "--password-stdin",
            password=PASSWORDS[name],
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
    return run


def _create(gateway, who: str, *service: str) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return gateway(
        "alert", "create", "--text", "en=The north road is closed today.", "--topic",
        "route-alerts", "--source", "field team", *acting(who), "--expires-in", "6h",
        *service, password=PASSWORDS[who],
    )  # fmt: skip


def test_alert_commands_act_on_the_service_named(gateway, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    unknown = _create(gateway, "wendy", "--service", "work")
    assert unknown.returncode == 1
    assert "no service 'work' (the services: safe-journey, work-rights)" in unknown.stderr
    # wendy holds a role on work-rights only: the default service is not hers.
    refused = _create(gateway, "wendy")
    assert refused.returncode == 1 and "wendy is none on safe-journey" in refused.stderr
    work = _create(gateway, "wendy", "--service", "work-rights")
    assert work.returncode == 0, work.stderr
    work_id = work.stdout.strip()
    default = _create(gateway, "alice")  # a global editor, on the default service
    assert default.returncode == 0, default.stderr
    default_id = default.stdout.strip()

    def listed(*service: str) -> list[int]:
        answer = gateway("alert", "list", "--json", *service)
        assert answer.returncode == 0, answer.stderr
        return [item["id"] for item in json.loads(answer.stdout)]

    assert listed() == [int(default_id)]
    assert listed("--service", "work-rights") == [int(work_id)]
    # Another service's alert is refused, and the sentence says whose it is.
    other = gateway("alert", "status", work_id)
    assert other.returncode == 1
    assert "belongs to service 'work-rights', not 'safe-journey'" in other.stderr
    status = gateway("alert", "status", work_id, "--service", "work-rights", "--json")
    assert json.loads(status.stdout)["state"] == "draft"
    # walt approves on work-rights only; bob, a global approver, anywhere.
    walt_default = gateway(
        "alert", "approve", default_id, *acting("walt"), password=PASSWORDS["walt"]
    )
    assert walt_default.returncode == 1 and "walt is none on safe-journey" in walt_default.stderr
    walt_foreign = gateway(
        "alert", "approve", default_id, *acting("walt"), "--service", "work-rights",
        password=PASSWORDS["walt"],
    )  # fmt: skip
    assert (
        walt_foreign.returncode == 1 and "belongs to service 'safe-journey'" in walt_foreign.stderr
    )
    approved = gateway(
        "alert", "approve", work_id, *acting("walt"), "--service", "work-rights",
        password=PASSWORDS["walt"],
    )  # fmt: skip
    assert approved.returncode == 0, approved.stderr
    wendy_send = gateway(
        "alert", "send", work_id, *acting("wendy"), "--service", "work-rights",
        password=PASSWORDS["wendy"],
    )  # fmt: skip
    assert wendy_send.returncode == 1 and "wendy is editor on work-rights" in wendy_send.stderr
    bob = gateway("alert", "approve", default_id, *acting("bob"), password=PASSWORDS["bob"])
    assert bob.returncode == 0, bob.stderr
    # Every row names its service; the refusals too; the chain verifies.
    assert gateway("audit", "verify").returncode == 0
    with sqlite3.connect(tmp_path / "gateway.db") as raw:
        rows = raw.execute("SELECT actor, action, service FROM audit_log ORDER BY id").fetchall()
    assert ("wendy", "alert.create", "work-rights") in rows
    assert ("walt", "alert.approve", "work-rights") in rows
    assert ("alice", "alert.create", "") in rows and ("bob", "alert.approve", "") in rows
    assert ("wendy", "cli_refused", "") in rows  # refused on the default service
    assert ("wendy", "cli_refused", "work-rights") in rows  # send needs an approver
    assert ("cli", "user_service_role", "work-rights") in rows
    assert ("cli", "user_add", None) in rows
