"""Drives tests/smsc/simulator.js (node-smpp as the SMSC) from async tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gateway.settings import Secret, SMSCSettings
from gateway.smpp.tuning import LinkTuning
from gateway.sms.messages import DeliveryReport, InboundSMS
from gateway.ussd.types import USSDReply, USSDRequest

SIMULATOR_DIR = Path(__file__).resolve().parent.parent / "smsc"
SCRIPT = SIMULATOR_DIR / "simulator.js"


class Simulator:
    def __init__(self, process: asyncio.subprocess.Process, port: int) -> None:
        self.process = process
        self.port = port
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def start(
        cls,
        port: int = 0,
        record: Path | None = None,
        lifetime: float = 120.0,
        tls: tuple[Path, Path] | None = None,
    ) -> Simulator:
        args = ["node", str(SCRIPT), "--port", str(port), "--lifetime", str(lifetime)]
        if record is not None:
            args += ["--record", str(record)]
        if tls is not None:
            args += ["--tls-key", str(tls[0]), "--tls-cert", str(tls[1])]
        process = await asyncio.create_subprocess_exec(
            *args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=SIMULATOR_DIR,
            limit=64 * 1024 * 1024,
        )
        assert process.stdout is not None
        async with asyncio.timeout(15):
            line = await process.stdout.readline()
        first = json.loads(line)
        assert first["event"] == "listening", first
        return cls(process, int(first["port"]))

    async def _read(self) -> None:
        assert self.process.stdout is not None
        while True:
            line = await self.process.stdout.readline()
            if not line:
                break
            reply = json.loads(line)
            future = self._waiting.pop(reply.get("id", -1), None)
            if future is not None and not future.done():
                future.set_result(reply)
        for future in self._waiting.values():
            if not future.done():
                future.set_exception(ConnectionError("simulator exited"))

    async def command(self, cmd: str, wait: float = 30.0, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self.process.stdin.write(json.dumps({"id": ident, "cmd": cmd, **fields}).encode() + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(wait):
            reply = await future
        assert reply.get("ok"), reply
        return reply

    async def configure(self, **settings: Any) -> None:
        await self.command("config", set=settings)

    async def stats(self) -> dict[str, Any]:
        return (await self.command("stats"))["stats"]

    async def messages(self) -> list[dict[str, Any]]:
        return (await self.command("messages"))["messages"]

    async def kill(self) -> None:
        """SIGKILL: no goodbye on any socket."""
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGKILL)
            await self.process.wait()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader

    async def stop(self) -> None:
        if self.process.returncode is None:
            assert self.process.stdin is not None
            self.process.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await self.process.wait()
            except TimeoutError:
                pass
        await self.kill()


FAST = LinkTuning(
    reconnect_initial=0.05,
    reconnect_max=0.5,
    connect_timeout=3.0,
    bind_timeout=3.0,
    throttle_pause=0.02,
    throttle_pause_max=0.2,
    temporary_pause=0.02,
    submit_deadline=20.0,
    tick_interval=0.05,
)


def smsc_settings(port: int, **overrides: Any) -> SMSCSettings:
    base = SMSCSettings(
        name="sim",
        host="127.0.0.1",
        port=port,
        system_id="gateway",
        password=Secret("secret"),
        tps=100_000.0,
        source_addr="InfoLine",
        enquire_link_interval=30.0,
        response_timeout=5.0,
    )
    return replace(base, **overrides)


def smsc_bind(port: int, **more: Any) -> dict[str, Any]:
    """One entry of ``GATEWAY_SMSC`` for the simulator on ``port``."""
    return {
        "name": "sim",
        "host": "127.0.0.1",
        "port": port,
        "system_id": "gateway",
        "password": "secret",
        **more,
    }


@dataclass
class RecordingSink:
    """An InboundSink that keeps what it got, like the store would (dedup by id)."""

    messages: list[InboundSMS] = field(default_factory=list)
    reports: list[DeliveryReport] = field(default_factory=list)
    calls: int = 0
    delay: float = 0.0

    async def on_inbound_sms(self, message: InboundSMS) -> None:
        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message)

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)


class EchoMenu:
    """A two-screen USSD handler: a menu, then an END echoing the choice."""

    def __init__(self) -> None:
        self.requests: list[USSDRequest] = []

    async def handle(self, request: USSDRequest) -> USSDReply:
        self.requests.append(request)
        if request.user_input is None:
            return USSDReply("Welcome\n1. Hotlines\n2. Safe routes", end=False)
        return USSDReply(f"You chose {request.user_input}. Stay safe €", end=True)


async def eventually(
    check: Any, within: float = 10.0, every: float = 0.02, what: str = "condition"
) -> None:
    """Poll ``check`` (sync or async, returning truthy) until it holds; fail after
    ``within``, naming ``what`` was awaited."""
    for _ in range(max(1, int(within / every))):
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(every)
    raise AssertionError(f"{what} not met within {within} s")
