"""`gateway simulate --script`: the operators' way to check a tree, run as they run it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

SCRIPT = ROOT / "tests" / "scripts" / "sample-walk.yaml"
# A bound on a hung process, not a speed check: every start validates the whole tree
# (every screen, language and caller country), tens of seconds on a loaded machine.
TIMEOUT = 240


def simulate(script: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, GATEWAY_DATA_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT))
    return subprocess.run(
        [sys.executable, "-m", "gateway", "simulate", "--script", str(script)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        cwd=ROOT,
    )


def test_the_sample_script_matches_every_screen(tmp_path: Path) -> None:
    result = simulate(SCRIPT, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "every screen matched" in result.stdout


def test_a_mismatch_fails_and_says_where(tmp_path: Path) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text(
        SCRIPT.read_text(encoding="utf-8").replace("1 Fake job offers", "1 Free pizza", 1),
        encoding="utf-8",
    )
    result = simulate(broken, tmp_path)
    assert result.returncode == 1
    assert "MISMATCH step 6 (send '3'): expected '1 Free pizza'" in result.stderr


def test_validate_command_reports_ok_and_problems(tmp_path: Path) -> None:
    env = dict(os.environ, GATEWAY_DATA_DIR=str(tmp_path / "var"), PYTHONPATH=str(ROOT))
    ok = subprocess.run(
        [sys.executable, "-m", "gateway", "validate"],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    assert ok.returncode == 0 and ": OK (" in ok.stdout
    bad_tree = tmp_path / "bad.yaml"
    bad_tree.write_text(
        (ROOT / "menus" / "safe-journey.yaml")
        .read_text(encoding="utf-8")
        .replace("goto: warnings\n", "goto: warningz\n", 1),
        encoding="utf-8",
    )
    bad = subprocess.run(
        [sys.executable, "-m", "gateway", "validate", str(bad_tree)],
        capture_output=True,
        text=True,
        env=env,
        timeout=TIMEOUT,
        cwd=ROOT,
    )
    assert bad.returncode == 1
    assert "screen 'main': option '3' links to missing screen 'warningz'" in bad.stdout
