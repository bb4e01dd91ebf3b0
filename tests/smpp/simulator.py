"""Drives tests/smsc/simulator.js (node-smpp as the SMSC) from async tests."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import signal
from pathlib import Path
from typing import Any

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
        cls, port: int = 0, record: Path | None = None, lifetime: float = 120.0
    ) -> Simulator:
        args = ["node", str(SCRIPT), "--port", str(port), "--lifetime", str(lifetime)]
        if record is not None:
            args += ["--record", str(record)]
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

    async def command(self, cmd: str, timeout: float = 30.0, **fields: Any) -> dict[str, Any]:
        assert self.process.stdin is not None
        ident = next(self._ids)
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = future
        self.process.stdin.write(json.dumps({"id": ident, "cmd": cmd, **fields}).encode() + b"\n")
        await self.process.stdin.drain()
        async with asyncio.timeout(timeout):
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
