"""Two real gateway processes (``gateway serve``) on one SQLite file: a console session
is the same on both, and ``gateway user passwd`` ends it on both within a second."""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.servers import free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[2]
PASSWORD = "two workers one store"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def _env(data_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "GATEWAY_DATA_DIR": str(data_dir),
        "GATEWAY_SMS_CHANNEL": "none",
        "GATEWAY_LOG_LEVEL": "warning",
        "PYTHONPATH": str(ROOT),
    }


def _user(data_dir: Path, *args: str, password: str = "") -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gateway", "user", *args],
        input=password + "\n",
        capture_output=True,
        text=True,
        env=_env(data_dir),
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[str]]:
    _user(tmp_path, "add", "eddie", "--role", "editor", "--password-stdin", password=PASSWORD)
    processes = []
    urls = []
    try:
        for _ in range(2):
            port = free_port()
            processes.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                    env=_env(tmp_path),
                    cwd=ROOT,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
            urls.append(f"http://127.0.0.1:{port}")
        for url in urls:
            wait_for_port(int(url.rsplit(":", 1)[1]), timeout=60)
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)


async def _status(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(f"{url}/console/", allow_redirects=False) as response:
        return response.status


async def test_a_password_change_ends_the_session_on_both_workers_within_a_second(
    workers: list[str], tmp_path: Path
) -> None:
    first, second = workers
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(cookie_jar=jar) as browser:
        # The login form from one worker, posted to the other: any worker checks it.
        async with browser.get(f"{first}/console/login") as page:
            token = CSRF.search(await page.text()).group(1)  # type: ignore[union-attr]
        async with browser.post(
            f"{second}/console/login",
            data={"username": "eddie", "password": PASSWORD, "csrf_token": token},
            allow_redirects=False,
        ) as response:
            assert response.status == 303, await response.text()
        # Both ports are 127.0.0.1, so the one cookie goes to both workers.
        assert await _status(browser, first) == 200
        assert await _status(browser, second) == 200

        changed = asyncio.get_running_loop().run_in_executor(
            None,
            lambda: _user(
                tmp_path, "passwd", "eddie", "--password-stdin", password="a brand new passphrase"
            ),
        )
        await changed
        ended_at = time.monotonic()
        statuses: tuple[int, int] = (200, 200)
        while time.monotonic() - ended_at < 1.0:
            statuses = (await _status(browser, first), await _status(browser, second))
            if statuses == (303, 303):
                break
            await asyncio.sleep(0.05)
        assert statuses == (303, 303)
