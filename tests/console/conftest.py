"""Console test fixtures: the console on a real aiohttp test server over a real SQLite
store (a file in tmp_path), with a clock the test moves, and helpers that sign in
the way a browser does (GET the form, POST it with its CSRF token)."""

from __future__ import annotations

import base64
import re
import shutil
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import pytest
from aiohttp import ClientResponse, web
from aiohttp.test_utils import TestClient
from argon2 import PasswordHasher
from cryptography.fernet import Fernet

from gateway.broadcast.alert_service import AlertService
from gateway.console import second_factor
from gateway.console.console_app import console_keys, create_console_app
from gateway.console.context import CONTEXT, ConsoleContext
from gateway.console.passwords import Passwords
from gateway.console.ports import ConsoleHooks
from gateway.settings import PROJECT_ROOT, Secret, Settings
from gateway.store.sql_store import SQLStore
from tests.audit_support import AUDIT_KEY, seal_at

# Cheap argon2id parameters: the tests sign in dozens of times on a 2-core machine.
FAST_PASSWORDS = Passwords(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
PASSWORD = "correct horse battery"  # 12+ characters, not on the common list
START = 1_800_000_000.0


class Clock:
    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tree_dirs(tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the shipped menu and content, so tests may change them."""
    menus = tmp_path / "menus"
    content = tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "menus", menus)
    shutil.copytree(PROJECT_ROOT / "content", content)
    return menus, content


@pytest.fixture
def settings(tmp_path: Path, tree_dirs: tuple[Path, Path]) -> Settings:
    return Settings(
        data_dir=tmp_path,
        menus=tree_dirs[0],
        content=tree_dirs[1],
        console_idle_timeout=600,
        console_absolute_timeout=3600,
        hash_key=Secret("test hash key, thirty-two chars or more"),
        audit_key=Secret(AUDIT_KEY.decode()),
        encryption_key=Secret(Fernet.generate_key().decode()),
        console_key=Secret("test console key, thirty-two chars or more"),
    )


async def enrol(store: Any, settings: Settings, username: str, now: float = START) -> str:
    """Give ``username`` a second factor, as enrolment in the console does; returns
    the TOTP secret."""
    keys = console_keys(settings)
    seal_key = base64.urlsafe_b64encode(keys["seal"]).decode()
    secret = second_factor.new_secret()
    await store.save_second_factor(username, second_factor.seal(seal_key, secret), [], now)
    return secret


@pytest.fixture
async def backend(tmp_path: Path, settings: Settings) -> AsyncIterator[SQLStore]:
    store: SQLStore = await SQLStore.open(tmp_path / "console.db", seal_at(tmp_path))
    for username, role in (("ada", "admin"), ("eddie", "editor"), ("april", "approver")):
        await store.create_operator(username, FAST_PASSWORDS.hash(PASSWORD), role, START)
    # Admins and approvers must have a second factor: these two already set theirs up.
    await enrol(store, settings, "ada")
    await enrol(store, settings, "april")
    await store.create_operator("gone", FAST_PASSWORDS.hash(PASSWORD), "editor", START)
    await store.update_operator("gone", START, disabled=True)
    yield store
    await store.close()


CONSOLE = web.AppKey("console_app", web.Application)


def make_app(
    backend: Any, clock: Clock, settings: Settings, hooks: ConsoleHooks | None = None
) -> web.Application:
    root = web.Application()
    console = create_console_app(
        settings, backend, AlertService(backend), hooks=hooks, clock=clock, passwords=FAST_PASSWORDS
    )
    root.add_subapp("/console/", console)
    root[CONSOLE] = console
    return root


def console_context(client: TestClient) -> ConsoleContext:
    if CONSOLE in client.app:
        return client.app[CONSOLE][CONTEXT]
    for resource in client.app.router.resources():
        sub = getattr(resource, "_app", None)
        if sub is not None and CONTEXT in sub:
            context: ConsoleContext = sub[CONTEXT]
            return context
    raise AssertionError("no console mounted on this app")


SECRET_SHOWN = re.compile(r'id="totp-secret">([^<]+)<')


async def enrol_in_browser_steps(client: TestClient) -> None:
    """Finish a first sign-in that asks for a second factor to be set up: read the key
    the page shows, type the code an authenticator would compute from it."""
    page = await (await client.get("/console/login/enrol")).text()
    match = SECRET_SHOWN.search(page)
    assert match, "the enrolment page shows no key"
    secret = match.group(1).replace(" ", "")
    code = second_factor.code_at(secret, second_factor.step_at(console_context(client).now()))
    response = await client.post(
        "/console/login/enrol",
        data={"code": code, "csrf_token": csrf_of(page)},
        allow_redirects=False,
    )
    assert response.status == 200, await response.text()
    assert "recovery codes" in await response.text()


async def current_code(client: TestClient, username: str) -> str:
    """The TOTP code ``username``'s app would show now, as the console's clock runs. A
    code works once: when this time step is used up, the next one (within the drift
    allowed) is given, and the test clock moves on if that is used too."""
    ctx = console_context(client)
    factor = await ctx.backend.get_second_factor(username)
    assert factor is not None, f"{username} has no second factor"
    secret = second_factor.unseal(ctx.seal_key, factor.totp_sealed)
    assert secret is not None
    step = second_factor.step_at(ctx.now())
    if factor.last_step >= step + second_factor.DRIFT_STEPS:
        assert isinstance(ctx.clock, Clock)
        ctx.clock.advance(second_factor.STEP_SECONDS * (factor.last_step - step))
        step = second_factor.step_at(ctx.now())
    step = max(step, factor.last_step + 1)
    return second_factor.code_at(secret, step)


@pytest.fixture
async def client(
    aiohttp_client: Any, backend: SQLStore, clock: Clock, settings: Settings
) -> TestClient:
    return await aiohttp_client(make_app(backend, clock, settings))


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def _sign_in(
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
    if response.headers["Location"].endswith("/login/code"):
        code = await current_code(client, username)
        response = await client.post(
            "/console/login/code",
            data={
                "code": code,
                "csrf_token": csrf_of(await (await client.get("/console/login/code")).text()),
            },
            allow_redirects=False,
        )
        assert response.status == 303, await response.text()
    elif response.headers["Location"].endswith("/login/enrol"):
        await enrol_in_browser_steps(client)
    home = await client.get("/console/")
    assert home.status == 200, await home.text()
    return csrf_of(await home.text())


class Operator:
    """A browser signed in to the console: its own cookies (``client``) and its session's
    CSRF token, which every form it posts carries."""

    def __init__(self, client: TestClient, token: str) -> None:
        self.client = client
        self.token = token

    async def page(self, path: str) -> str:
        """The text of the page at ``path`` (a GET, redirects followed)."""
        return await (await self.client.get(path)).text()

    async def post(
        self, path: str, fields: Mapping[str, str] | None = None, **options: Any
    ) -> ClientResponse:
        """Post a form as the browser does: ``fields`` and the CSRF token."""
        form = {**(fields or {}), "csrf_token": self.token}
        return await self.client.post(path, data=form, **options)


class SignedIn(Protocol):
    async def __call__(self, username: str, app: web.Application | None = None) -> Operator: ...


@pytest.fixture
def signed_in(aiohttp_client: Any, backend: SQLStore, clock: Clock, settings: Settings) -> SignedIn:
    """``await signed_in("eddie")``: a new browser signed in as eddie. Without ``app`` every
    call of a test opens the same console app (``make_app`` over the test's store and
    clock); pass ``app`` (``app_factory(..., hooks)``) for another."""
    default: list[web.Application] = []

    async def sign_in_as(username: str, app: web.Application | None = None) -> Operator:
        if app is None:
            if not default:
                default.append(make_app(backend, clock, settings))
            app = default[0]
        client: TestClient = await aiohttp_client(app)
        return Operator(client, await _sign_in(client, username))

    return sign_in_as


# Tests reach the helpers through fixtures: a test module importing ``tests.console``
# would depend on which ``tests`` package is first on sys.path.
@pytest.fixture
def sign_in() -> Any:
    return _sign_in


@pytest.fixture
def csrf() -> Any:
    return csrf_of


@pytest.fixture
def app_factory() -> Any:
    return make_app


@pytest.fixture
def totp() -> Any:
    """``await totp(client, username)``: the code ``username``'s authenticator shows."""
    return current_code


@pytest.fixture
def password() -> str:
    return PASSWORD


@pytest.fixture
def fast_passwords() -> Passwords:
    return FAST_PASSWORDS
