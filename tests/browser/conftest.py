"""Browser tests: the real console app on 127.0.0.1 (a free port), a real SQLite store,
driven by Debian's Chromium through Playwright.

Screenshots of the main pages go to ``test-artifacts/`` (gitignored) for a person
to look at.
"""

from __future__ import annotations

import asyncio
import base64
import shutil
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from cryptography.fernet import Fernet
from playwright.async_api import Browser, Page, async_playwright

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.africastalking.sms_sender import AfricasTalkingSMS
from gateway.broadcast.alert_service import AlertService
from gateway.broadcast.receipt_recorder import ReceiptRecorder
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.console import second_factor
from gateway.console.console_app import console_keys, create_console_app
from gateway.console.passwords import Passwords
from gateway.console.ports import ConsoleHooks
from gateway.console.publish_hook import publish_to
from gateway.content.catalog import load_catalogs
from gateway.menu.loader import load_tree_text
from gateway.menu.pages import Limit
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.server.live_tree import LiveTree
from gateway.server.published import PublishedFollower, read_seed
from gateway.settings import PROJECT_ROOT, Secret, Settings
from gateway.sms.channel_status import ChannelStatus
from gateway.sms.messages import DeliveryReport, InboundSMS
from gateway.store.records import DeliveryUpdate
from gateway.store.sql_store import SQLStore
from tests.at_double import MESSAGING_PATH, ATDouble
from tests.audit_support import AUDIT_KEY, seal_at

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = PROJECT_ROOT / "test-artifacts"
PASSWORD = "a long test password"
CALLBACK_SECRET = "browser-test-callback-secret"
MENU = "safe-journey"
TOTP_SECRETS: dict[str, str] = {}


Build = Callable[[Settings], Awaitable[tuple[web.Application, Any]]]
EDITOR_AND_APPROVER = {"eddie": "editor", "april": "approver"}


async def whole_gateway(settings: Settings) -> tuple[web.Application, Any]:
    """What ``serve`` runs (``create_app``: USSD, SMS and voice callbacks, console, store),
    without the broadcast worker."""
    app = await create_app(settings, broadcast_worker=False)
    return app, app[RUNTIME].store


class Gateway:
    """An app on a free port of 127.0.0.1 over a copy of the shipped menus and content in
    ``tmp_path``; ``stop`` then ``start`` builds it again on the same data directory, as a
    restart would."""

    def __init__(self, settings: Settings, build: Build) -> None:
        self.settings = settings
        self.build = build
        self.store: Any = None
        self.url = ""
        self._client: TestClient[Any, Any] | None = None

    @property
    def client(self) -> TestClient[Any, Any]:
        """The running server, for callers that speak HTTP to it (the AT doubles)."""
        assert self._client is not None, "the gateway is stopped"
        return self._client

    @property
    def console_url(self) -> str:
        return f"{self.url}/console"

    async def start(self) -> None:
        app, self.store = await self.build(self.settings)
        self._client = TestClient(TestServer(app, host="127.0.0.1"))
        await self._client.start_server()
        self.url = str(self._client.make_url("")).rstrip("/")

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.close()
            self._client = None

    async def callback(self, path: str, form: dict[str, str]) -> str:
        """A provider's callback (AT's USSD or SMS form) with the callback key; the
        gateway must answer 200."""
        response = await self.client.post(
            path, data=form, headers={"X-Callback-Key": CALLBACK_SECRET}
        )
        assert response.status == 200
        return await response.text()

    async def dial(self, session: str, text: str, caller: str, code: str = "*384#") -> str:
        """One USSD step over AT, from a Kenyan network; the screen the gateway answers."""
        form = {
            "sessionId": session,
            "serviceCode": code,
            "phoneNumber": caller,
            "networkCode": "63902",  # Kenya
            "text": text,
        }
        return await self.callback("/africastalking/ussd", form)


async def add_operators(store: Any, settings: Settings, roles: dict[str, str]) -> None:
    """Operators with ``PASSWORD``; admins and approvers sign in with a second factor,
    so theirs is set up already (its secret in ``TOTP_SECRETS``)."""
    passwords = Passwords()
    seal_key = base64.urlsafe_b64encode(console_keys(settings)["seal"]).decode()
    for username, role in roles.items():
        await store.create_operator(username, passwords.hash(PASSWORD), role, 0.0)
        if role in ("approver", "admin"):
            TOTP_SECRETS[username] = second_factor.new_secret()
            sealed = second_factor.seal(seal_key, TOTP_SECRETS[username])
            await store.save_second_factor(username, sealed, [], 0.0)


class MakeGateway(Protocol):
    async def __call__(
        self,
        build: Build = ...,
        operators: dict[str, str] = ...,
        files: dict[str, str] | None = None,
        **settings: Any,
    ) -> Gateway: ...


@pytest.fixture
async def make_gateway(tmp_path: Path) -> AsyncIterator[MakeGateway]:
    """``await make_gateway(build, operators, files, **settings)``: the shipped menus and
    content copied to ``tmp_path`` (plus ``files``, paths relative to it), the test
    Settings (``settings`` overrides), the app ``build`` makes (the whole gateway by
    default) started, and ``operators`` (username: role) added. Stopped after the test."""
    running: list[Gateway] = []

    async def make(
        build: Build = whole_gateway,
        operators: dict[str, str] = EDITOR_AND_APPROVER,
        files: dict[str, str] | None = None,
        **settings: Any,
    ) -> Gateway:
        menus, content = tmp_path / "menus", tmp_path / "content"
        shutil.copytree(PROJECT_ROOT / "menus", menus)
        shutil.copytree(PROJECT_ROOT / "content", content)
        for relative, text in (files or {}).items():
            (tmp_path / relative).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / relative).write_text(text, encoding="utf-8")
        defaults: dict[str, Any] = {
            "callback_secret": Secret(CALLBACK_SECRET),
            "hash_key": Secret("browser test hash key, thirty-two chars"),
            "audit_key": Secret(AUDIT_KEY.decode()),
            "encryption_key": Secret(Fernet.generate_key().decode()),
            "console_key": Secret("browser test console key, thirty-two chars"),
        }
        options = Settings(
            data_dir=tmp_path, menus=menus, content=content, **{**defaults, **settings}
        )
        gateway = Gateway(options, build)
        await gateway.start()
        running.append(gateway)
        TOTP_SECRETS.clear()
        await add_operators(gateway.store, options, operators)
        return gateway

    try:
        yield make
    finally:
        for gateway in reversed(running):
            await gateway.stop()


@dataclass
class Console:
    url: str
    store: SQLStore
    live: LiveTree
    settings: Settings
    hooks: ConsoleHooks
    callback_url: str
    # What the console is told about the SMS channels; a test may replace the list.
    channels: list[ChannelStatus]

    @property
    def console_url(self) -> str:
        return self.url


class ConsoleOnly:
    """Builds the console alone over its own store, with the hooks a gateway would give
    it (the shipped tree live, two SMSC links, the AT channel) and AT's delivery callback
    recording receipts into the store."""

    async def __call__(self, settings: Settings) -> tuple[web.Application, SQLStore]:
        store: SQLStore = await SQLStore.open(
            settings.data_dir / "gateway.db", seal_at(settings.data_dir)
        )
        shipped = (settings.menus / f"{MENU}.yaml").read_text(encoding="utf-8")
        self.live = live = LiveTree(
            load_tree_text(shipped, "shipped", load_catalogs(settings.content))
        )
        self.channels = [ChannelStatus("africastalking", "configured", True, "the AT double")]
        holder: list[list[ChannelStatus]] = [self.channels]
        follower = PublishedFollower(
            settings, store, live, read_seed(settings, Limit(settings.screen_limit))
        )
        self.hooks = ConsoleHooks(
            publish=publish_to(follower),
            content_changed=follower.follow_now,
            serving_warning=lambda: live.warning,
            country_aliases=lambda: follower.seed.country_aliases,
            link_states=lambda: {"smsc-a": "bound", "smsc-b": "down"},
            channel_states=lambda: holder[0],
        )
        root = web.Application()
        root.add_subapp(
            "/console/",
            create_console_app(settings, store, AlertService(store), hooks=self.hooks),
        )
        sink = ReceiptSink(store)
        root.router.add_routes(create_sms_routes(sink, settings.callback_secret))

        async def close(_: web.Application) -> None:
            await sink.receipts.close()
            await store.close()

        root.on_cleanup.append(close)
        return root, store


@pytest.fixture
async def console(make_gateway: MakeGateway) -> Console:
    parts = ConsoleOnly()
    gateway = await make_gateway(
        parts, operators={"eddie": "editor", "april": "approver", "ada": "admin"}
    )
    callback = f"{gateway.url}/africastalking/sms/delivery?key={CALLBACK_SECRET}"
    return Console(
        gateway.console_url,
        gateway.store,
        parts.live,
        gateway.settings,
        parts.hooks,
        callback,
        parts.channels,
    )


class ReceiptSink:
    """Where the AT delivery callback hands receipts: the real recorder into the store.
    (Inbound SMS and opt-outs are not part of these tests.)"""

    def __init__(self, store: SQLStore) -> None:
        self.receipts = ReceiptRecorder(store)

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        update = DeliveryUpdate(
            "africastalking", report.message_id, report.state.value, report.error, time.time()
        )
        await self.receipts.record(update)

    async def on_inbound_sms(self, message: InboundSMS) -> None:
        raise AssertionError("no inbound SMS expected")

    async def on_opt_out(self, channel: str, msisdn: str) -> None:
        raise AssertionError("no opt-out expected")


@dataclass
class Sending:
    """The real sending path: alert worker -> AT SMS channel -> AT double -> receipts
    posted back to the gateway's AT callback -> store."""

    double: ATDouble
    worker: BroadcastWorker
    numbers: list[str]


@pytest.fixture
async def sending(console: Console) -> AsyncIterator[Sending]:
    settings = console.settings
    people = SubscriptionService(
        console.store, PhoneHasher(settings.hash_key), NumberVault(settings.encryption_key)
    )
    numbers = [f"+2547100000{n:02d}" for n in range(30)]
    for index, number in enumerate(numbers):
        await people.join(number, "africastalking", "route-alerts", ("en", "fr")[index % 2], 0.0)
    double = ATDouble(dlr_url=console.callback_url, dlr_delay=0.3)
    server = TestServer(double.app(), host="127.0.0.1")
    await server.start_server()
    session = aiohttp.ClientSession()
    sender = AfricasTalkingSMS(
        session,
        str(server.make_url(MESSAGING_PATH)),
        double.username,
        Secret(double.api_key),
    )
    worker = BroadcastWorker(
        console.store,
        sender,
        NumberVault(settings.encryption_key),
        WorkerOptions(
            channel="africastalking",
            tps=6.0,
            sms_prefix=settings.sms_prefix,
            batch_size=5,
            concurrency=1,
            poll_interval=0.2,
        ),
    )
    stop = asyncio.Event()
    task = asyncio.create_task(worker.run(stop=stop))
    try:
        yield Sending(double, worker, numbers)
    finally:
        stop.set()
        await task
        await session.close()
        await server.close()


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


async def signed_in_page(browser: Browser, site: Console | Gateway, username: str) -> Page:
    """A fresh browser context (its own cookies) signed in as ``username``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    # A save or publish validates the whole tree (every page, language and country).
    context.set_default_timeout(120_000)
    page = await context.new_page()
    await page.goto(f"{site.console_url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    if username in TOTP_SECRETS:
        await page.wait_for_selector("input[name=code]")
        await page.fill("input[name=code]", await fresh_code(site.store, username))
        await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    return page


async def fresh_code(store: Any, username: str, secret: str | None = None) -> str:
    """The code an authenticator shows now; if this time step was used already (a code
    works once), the next one, waiting for it to be accepted if need be."""
    secret = secret or TOTP_SECRETS[username]
    factor = await store.get_second_factor(username)
    used = factor.last_step if factor else 0
    while True:
        step = second_factor.step_at(time.time())
        if used < step + second_factor.DRIFT_STEPS:
            return second_factor.code_at(secret, max(step, used + 1))
        await asyncio.sleep(1)


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def sign_in_as() -> Any:
    return signed_in_page


@pytest.fixture
def totp_code() -> Any:
    """``await totp_code(store, username, secret)``: what the authenticator shows."""
    return fresh_code


@pytest.fixture
def shoot() -> Any:
    return screenshot
