"""Browser tests: the real console app on 127.0.0.1 (a free port), a real SQLite store,
driven by Debian's Chromium through Playwright.

Screenshots of the main pages go to ``test-artifacts/`` (gitignored) for a person
to look at.
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from playwright.async_api import Browser, Page, async_playwright

from gateway.console.app import create_console_app
from gateway.console.live import publish_to
from gateway.content import load_catalogs
from gateway.live_tree import LiveTree
from gateway.menu.loader import load_tree_text
from gateway.settings import PROJECT_ROOT, Settings
from gateway.store.sqlite import SQLiteStore

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
MENU = "safe-journey"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Console:
    url: str
    store: SQLiteStore
    live: LiveTree
    settings: Settings
    extras: dict[str, Any]


@pytest.fixture
async def console(tmp_path: Path) -> AsyncIterator[Console]:
    menus, content = tmp_path / "menus", tmp_path / "content"
    shutil.copytree(PROJECT_ROOT / "menus", menus)
    shutil.copytree(PROJECT_ROOT / "content", content)
    settings = Settings(data_dir=tmp_path, menus=menus, content=content)
    store: SQLiteStore = await SQLiteStore.open(tmp_path / "gateway.db")
    from gateway.console.passwords import Passwords

    passwords = Passwords()
    for username, role in (("eddie", "editor"), ("april", "approver"), ("ada", "admin")):
        await store.create_operator(username, passwords.hash(PASSWORD), role, 0.0)
    shipped = (menus / f"{MENU}.yaml").read_text(encoding="utf-8")
    live = LiveTree(load_tree_text(shipped, "shipped", load_catalogs(content)))
    extras: dict[str, Any] = {
        "publish_hook": publish_to(live, settings),
        "link_states": lambda: {"smsc-a": "bound", "smsc-b": "down"},
    }
    root = web.Application()
    root.add_subapp("/console/", create_console_app(settings, store, **extras))
    runner = web.AppRunner(root, access_log=None)
    await runner.setup()
    port = free_port()
    site = web.TCPSite(runner, "127.0.0.1", port)
    await site.start()
    try:
        yield Console(f"http://127.0.0.1:{port}/console", store, live, settings, extras)
    finally:
        await runner.cleanup()
        await store.close()


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


async def signed_in_page(browser: Browser, console: Console, username: str) -> Page:
    """A fresh browser context (its own cookies) signed in as ``username``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto(f"{console.url}/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    return page


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


@pytest.fixture
def sign_in_as() -> Any:
    return signed_in_page


@pytest.fixture
def shoot() -> Any:
    return screenshot
