"""The graceful shutdown sequence: order, deadlines, failures, and a real SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from gateway.server.shutdown import GracefulShutdown

ROOT = Path(__file__).resolve().parents[2]
APP_SCRIPT = Path(__file__).with_name("shutdown_app.py")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_steps_run_in_order_and_a_stuck_or_failing_step_does_not_stop_the_rest() -> None:
    done: list[str] = []
    shutdown = GracefulShutdown()

    async def record(name: str) -> None:
        done.append(name)

    async def stuck() -> None:
        await asyncio.sleep(3600)

    async def broken() -> None:
        raise ConnectionResetError("smsc gone")

    shutdown.add("stop claiming", lambda: record("stop claiming"), timeout=1)
    shutdown.add("unbind", stuck, timeout=0.05)
    shutdown.add("await responses", broken, timeout=1)
    shutdown.add("release claims", lambda: record("release claims"), timeout=1)
    results = await shutdown.run()
    assert done == ["stop claiming", "release claims"]
    assert [(r.name, r.outcome) for r in results] == [
        ("stop claiming", "done"),
        ("unbind", "timed_out"),
        ("await responses", "failed"),
        ("release claims", "done"),
    ]
    assert shutdown.total_timeout == pytest.approx(3.05)


async def test_the_sequence_runs_once_even_when_asked_twice_at_once() -> None:
    calls = []
    shutdown = GracefulShutdown()

    async def step() -> None:
        calls.append(1)
        await asyncio.sleep(0.01)

    shutdown.add("release claims", step, timeout=1)
    first, second = await asyncio.gather(shutdown.run(), shutdown.run())
    third = await shutdown.run()
    assert calls == [1]
    assert first == second == third


async def test_readiness_fails_once_draining_and_no_step_can_be_added() -> None:
    shutdown = GracefulShutdown()
    check = shutdown.readiness_check()
    assert check.name == "accepting"
    assert await check.probe() is True
    shutdown.begin()
    assert await check.probe() is False
    with pytest.raises(RuntimeError):
        shutdown.add("late", asyncio.sleep, timeout=1)
    with pytest.raises(ValueError):
        GracefulShutdown().add("unbounded", asyncio.sleep, timeout=0)


async def test_in_process_app_finishes_in_flight_requests_before_the_steps() -> None:
    events: list[str] = []
    shutdown = GracefulShutdown()
    started = asyncio.Event()

    async def slow(request: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(0.3)
        events.append("request finished")
        return web.Response(text="complete")

    async def unbind() -> None:
        events.append(f"unbind (draining={shutdown.draining})")

    shutdown.add("unbind", unbind, timeout=1)
    app = web.Application()
    app.router.add_get("/slow", slow)
    app.on_shutdown.append(shutdown.on_shutdown)
    app.cleanup_ctx.append(shutdown.cleanup_ctx)
    runner = web.AppRunner(app, shutdown_timeout=5)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    async with aiohttp.ClientSession() as session:
        in_flight = asyncio.ensure_future(session.get(f"http://127.0.0.1:{port}/slow"))
        await started.wait()
        await runner.cleanup()
        response = await in_flight
        assert response.status == 200
        assert await response.text() == "complete"
        with pytest.raises(aiohttp.ClientConnectionError):
            await session.get(f"http://127.0.0.1:{port}/slow")
    assert events == ["request finished", "unbind (draining=True)"]


def test_sigterm_drains_then_runs_the_steps_before_closing_resources() -> None:
    port = free_port()
    child = subprocess.Popen(
        [sys.executable, str(APP_SCRIPT), str(port)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    seen: list[str] = []
    try:
        body = asyncio.run(_slow_request_interrupted_by_sigterm(child, port, seen))
        out, err = child.communicate(timeout=20)
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
    assert child.returncode == 0, err
    assert body == "complete"
    lines = seen + out.splitlines()
    events = [json.loads(line)["event"] for line in lines if line.startswith("{")]
    assert events == [
        "starting",
        "slow_started",
        "slow_finished",  # the request in flight completed after SIGTERM
        "unbind",
        "stuck_started",  # overran its 0.2 s deadline ...
        "release_claims",  # ... and the claims were released anyway
        "store_closed",  # resources close after the sequence
        "exited",
    ]


async def _slow_request_interrupted_by_sigterm(
    child: subprocess.Popen[str], port: int, seen: list[str]
) -> str:
    base = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=15)) as session:
        deadline = time.monotonic() + 15
        while True:
            try:
                async with session.get(f"{base}/readyz") as response:
                    assert response.status == 200
                    break
            except aiohttp.ClientConnectionError:
                assert time.monotonic() < deadline, "the app did not start"
                await asyncio.sleep(0.05)
        in_flight = asyncio.ensure_future(session.get(f"{base}/slow"))
        assert child.stdout is not None
        loop = asyncio.get_running_loop()
        while not seen or "slow_started" not in seen[-1]:  # the request is being handled
            line = await loop.run_in_executor(None, child.stdout.readline)
            assert line, "the app exited early"
            seen.append(line)
        child.send_signal(signal.SIGTERM)
        response = await in_flight
        assert response.status == 200
        return await response.text()
