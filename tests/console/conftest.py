"""Console test fixtures: a console app on a real aiohttp test server, with a clock the
test moves, and helpers that sign in the way a browser does (GET the form, POST it
with its CSRF token)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher

from gateway.console.app import create_console_app
from gateway.console.passwords import Passwords
from gateway.console.ports import OperatorAccount
from gateway.settings import Settings

# Cheap argon2id parameters: the tests sign in dozens of times on a 2-core machine.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
PASSWORD = "correct horse battery"


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class MemoryBackend:
    operators: dict[str, OperatorAccount] = field(default_factory=dict)
    audit: list[tuple[str, str, str, Mapping[str, str], float]] = field(default_factory=list)

    async def get_operator(self, username: str) -> OperatorAccount | None:
        return self.operators.get(username)

    async def set_operator_password(self, username: str, password_hash: str) -> None:
        old = self.operators[username]
        self.operators[username] = OperatorAccount(username, password_hash, old.role, old.disabled)

    async def record_audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, str], at: float
    ) -> None:
        self.audit.append((actor, action, subject, detail, at))

    def add(self, username: str, role: str, disabled: bool = False) -> None:
        self.operators[username] = OperatorAccount(
            username, FAST_PASSWORDS.hash(PASSWORD), role, disabled
        )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def backend() -> MemoryBackend:
    store = MemoryBackend()
    store.add("ada", "admin")
    store.add("eddie", "editor")
    store.add("april", "approver")
    store.add("gone", "editor", disabled=True)
    return store


def make_app(backend: Any, clock: Clock, settings: Settings | None = None) -> web.Application:
    settings = settings or Settings(console_idle_timeout=600, console_absolute_timeout=3600)
    root = web.Application()
    console = create_console_app(settings, backend, clock=clock, passwords=FAST_PASSWORDS)
    root.add_subapp("/console/", console)
    return root


@pytest.fixture
async def client(aiohttp_client: Any, backend: MemoryBackend, clock: Clock) -> TestClient:
    return await aiohttp_client(make_app(backend, clock))


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def sign_in(
    client: TestClient, username: str, password: str = PASSWORD, status: int = 303
) -> str:
    """Sign in like a browser; returns the CSRF token of the signed-in session."""
    page = await client.get("/console/login")
    token = csrf_of(await page.text())
    response = await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
        allow_redirects=False,
    )
    assert response.status == status, await response.text()
    if status != 303:
        return token
    home = await client.get("/console/")
    assert home.status == 200
    return csrf_of(await home.text())
