"""Two ``gateway serve`` processes sharing one Redis: a USSD session hops between them.

A load balancer may send each request of a session to a different worker. Walked
alternately through two workers, a session must show exactly the screens it shows when
walked through one, and a request re-sent to the other worker must get the same screen.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "two-workers-callback-secret-0123"
WALK = ["", "2", "2*1", "2*1*98", "2*1*98*0", "2*1*98*0*00", "2*1*98*0*00*3"]


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def two_workers(redis_server: Any, tmp_path: Path) -> Iterator[list[int]]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_REDIS_URL": redis_server.url,
        "GATEWAY_CALLBACK_SECRET": SECRET,
        "GATEWAY_HASH_KEY": "h" * 40,
        "GATEWAY_LOG_FORMAT": "json",
    }
    workers: list[subprocess.Popen[bytes]] = []
    try:
        ports = [_start_worker(env, workers), _start_worker(env, workers)]
        yield ports
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait()


def _start_worker(env: dict[str, str], workers: list[subprocess.Popen[bytes]]) -> int:
    """Start one worker and wait for /healthz; a port taken meanwhile by another
    process on this shared machine means another try on another port."""
    for _ in range(3):
        port = free_port()
        worker = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        workers.append(worker)
        if asyncio.run(_healthy(port, worker)):
            return port
        errors = worker.stderr.read().decode() if worker.stderr else ""
        assert "address already in use" in errors.lower(), errors
    raise AssertionError("no free port for a worker after three tries")


async def _healthy(port: int, worker: subprocess.Popen[bytes]) -> bool:
    """True once the worker answers /healthz; False if it exited first."""
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while worker.poll() is None:
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return True
            except aiohttp.ClientConnectionError:
                pass
            assert time.monotonic() < deadline, "a worker did not start within 60 s"
            await asyncio.sleep(0.1)
    return False


async def dial(
    session: aiohttp.ClientSession, port: int, session_id: str, phone: str, text: str
) -> str:
    async with session.post(
        f"http://127.0.0.1:{port}/africastalking/ussd",
        data={
            "sessionId": session_id,
            "serviceCode": "*384*1#",
            "phoneNumber": phone,
            "networkCode": "63902",
            "text": text,
        },
        headers={"X-Callback-Key": SECRET},
    ) as response:
        assert response.status == 200
        return await response.text()


async def walk(ports: list[int], session_id: str, phone: str) -> list[str]:
    screens = []
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        for hop, text in enumerate(WALK):
            screens.append(await dial(session, ports[hop % len(ports)], session_id, phone, text))
    return screens


def test_a_session_continues_across_two_workers(two_workers: list[int]) -> None:
    first, second = two_workers

    async def scenario() -> tuple[list[str], list[str], str, str]:
        alone = await walk([first], "alone-1", "+254700000101")
        hopping = await walk([first, second], "hopping-1", "+254700000102")
        async with aiohttp.ClientSession() as session:
            # AT re-sends a request it got no answer for: possibly to the other worker
            text = WALK[2]
            original = await dial(session, first, "replay-1", "+254700000103", "")
            await dial(session, first, "replay-1", "+254700000103", WALK[1])
            original = await dial(session, first, "replay-1", "+254700000103", text)
            replayed = await dial(session, second, "replay-1", "+254700000103", text)
        return alone, hopping, original, replayed

    alone, hopping, original, replayed = asyncio.run(scenario())
    assert all(screen.startswith(("CON ", "END ")) for screen in alone)
    assert len(set(alone)) >= 4  # the walk really moves through the tree (and back)
    assert hopping == alone
    assert replayed == original
