"""Every dependency declared in pyproject.toml earns its place: the product imports it.

Read from the source with :mod:`ast`, like tests/test_structure.py; a declared
distribution whose import name appears in no module of ``gateway/`` fails here.
"""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# Distribution name -> the module it is imported as, where the two differ.
IMPORT_NAMES = {
    "PyYAML": "yaml",
    "argon2-cffi": "argon2",
    "prometheus-client": "prometheus_client",
    "mobile-codes": "mobile_codes",
}


def declared() -> list[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return [re.split(r"[<>=!~\[; ]", spec, maxsplit=1)[0] for spec in project["dependencies"]]


def imported() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "gateway").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                found.add(node.module.split(".")[0])
    return found


def test_every_declared_dependency_is_imported_by_the_product() -> None:
    names = declared()
    assert "aiohttp" in names and "PyYAML" in names  # the parser reads the real list
    unused = [name for name in names if IMPORT_NAMES.get(name, name) not in imported()]
    assert unused == []


def test_the_africastalking_sdk_is_not_declared() -> None:
    # Blocking requests, a host fixed inside the SDK (no local double), and requests,
    # schema and the mocking library responses in production: see the README.
    assert "africastalking" not in declared()
