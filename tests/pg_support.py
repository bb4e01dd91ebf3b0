"""A real PostgreSQL for tests: the local cluster, a test role, one database per test.

The machine's PostgreSQL cluster (installed by tests/install.sh) is started if it is
down, a ``gateway_test`` role is created once through ``su postgres -c psql`` (the
only step that needs the superuser), and every test gets a fresh database that the
role creates and drops itself.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg

HOST = "127.0.0.1"
PORT = 5432
ROLE = "gateway_test"
PASSWORD = "gateway_test_pw"
ADMIN_URL = f"postgresql://{ROLE}:{PASSWORD}@{HOST}:{PORT}/postgres"

_ready = False


def _psql_as_superuser(sql: str) -> None:
    subprocess.run(
        ["su", "postgres", "-c", f"psql -v ON_ERROR_STOP=1 -q -c {_shell_quote(sql)}"],
        check=True,
        capture_output=True,
        timeout=60,
    )


def _shell_quote(text: str) -> str:
    return "'" + text.replace("'", "'\"'\"'") + "'"


def _ensure_cluster_running() -> None:
    if shutil.which("pg_lsclusters") is None:
        raise RuntimeError("PostgreSQL is not installed: run tests/install.sh")
    listing = subprocess.run(
        ["pg_lsclusters", "--no-header"], check=True, capture_output=True, text=True, timeout=30
    ).stdout.split()
    # columns: version cluster port status owner datadir logfile
    version, cluster, status = listing[0], listing[1], listing[3]
    if status != "online":
        subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, cluster, "start"],
            check=True,
            capture_output=True,
            timeout=120,
        )


def ensure_test_role() -> None:
    """Idempotent: the cluster is up and the test role exists with its password."""
    global _ready
    if _ready:
        return
    _ensure_cluster_running()
    _psql_as_superuser(
        "DO $$ BEGIN "
        f"IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{ROLE}') THEN "
        f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'; "
        "END IF; END $$;"
    )
    _ready = True


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh, empty database for one test; yields its URL and drops it afterwards."""
    ensure_test_role()
    name = "gw_test_" + secrets.token_hex(6)
    admin = await asyncpg.connect(ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql://{ROLE}:{PASSWORD}@{HOST}:{PORT}/{name}"
    finally:
        admin = await asyncpg.connect(ADMIN_URL)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()
