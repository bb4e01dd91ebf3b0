"""A test double of Africa's Talking's SMS API, as an aiohttp app.

Faithful to the documented messaging endpoint: ``POST /version1/messaging`` with a
form (``username``, ``to`` comma-separated, ``message``, optional ``from``,
``bulkSMSMode``, ``enqueue``) and an ``apiKey`` header; it answers 201 with
``SMSMessageData.Recipients`` (``statusCode`` 101 ``Success`` with ``messageId`` and
``cost``; a blacklisted number gets ``UserInBlacklist`` / 406 and no id), 401 on a
wrong key or username. It can post delivery reports (``id``, ``status``,
``phoneNumber``, ``networkCode``, ``failureReason``, ``retryCount``) and opt-out
notifications back to the gateway's callbacks, like AT does.

Run standalone for benchmarks: ``python tests/at_double.py --port 8099 --dlr-url ...``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import aiohttp
from aiohttp import web

MESSAGING_PATH = "/version1/messaging"
BLACKLIST_CODE = 406


@dataclass
class Received:
    number: str
    text: str
    message_id: str
    at: float
    sender: str = ""  # the request's ``from`` ("" when it named none: the account's default)


@dataclass
class ATDouble:
    username: str = "sandbox"
    api_key: str = "at-double-key"
    blacklist: set[str] = field(default_factory=set)
    # Numbers starting with a prefix get a per-recipient error, as AT answers numbers it
    # cannot reach: {"+2547000001": (407, "CouldNotRoute")} (the longest prefix wins).
    # Nothing is sent to them.
    refuse: dict[str, tuple[int, str]] = field(default_factory=dict)
    dlr_url: str | None = None
    optout_url: str | None = None
    dlr_status: str = "Success"
    dlr_delay: float = 0.0
    dlr_workers: int = 16
    keep_messages: bool = True  # False: count only (million-recipient benchmarks)
    received: list[Received] = field(default_factory=list)
    per_number: Counter[str] = field(default_factory=Counter)
    total: int = 0
    requests: int = 0
    fail_next_requests: int = 0
    dlrs_posted: int = 0
    dlrs_failed: int = 0
    first_at: float | None = None
    last_at: float | None = None
    _ids: itertools.count[int] = field(default_factory=itertools.count)
    _dlr_queue: asyncio.Queue[dict[str, str]] | None = None
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _session: aiohttp.ClientSession | None = None

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post(MESSAGING_PATH, self._messaging)
        app.on_startup.append(self._start)
        app.on_cleanup.append(self._stop)
        return app

    async def _start(self, app: web.Application) -> None:
        self._session = aiohttp.ClientSession()
        self._dlr_queue = asyncio.Queue()
        self._tasks = [asyncio.create_task(self._post_dlrs()) for _ in range(self.dlr_workers)]

    async def _stop(self, app: web.Application) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._session is not None:
            await self._session.close()

    async def _messaging(self, request: web.Request) -> web.Response:
        self.requests += 1
        if request.headers.get("apiKey") != self.api_key:
            return web.Response(status=401, text="The supplied authentication is invalid")
        form = await request.post()
        if form.get("username") != self.username:
            return web.Response(status=401, text="The supplied authentication is invalid")
        if self.fail_next_requests > 0:
            self.fail_next_requests -= 1
            return web.Response(status=500, text="Internal Server Error")
        message = str(form.get("message", ""))
        numbers = [n.strip() for n in str(form.get("to", "")).split(",") if n.strip()]
        if not numbers or not message:
            return web.Response(status=400, text="Invalid request")
        now = time.time()
        recipients = []
        sent = 0
        for number in numbers:
            if number in self.blacklist:
                recipients.append(
                    {
                        "statusCode": BLACKLIST_CODE,
                        "number": number,
                        "status": "UserInBlacklist",
                        "cost": "0",
                        "messageId": "None",
                    }
                )
                continue
            matching = [prefix for prefix in self.refuse if number.startswith(prefix)]
            if matching:
                refusal = self.refuse[max(matching, key=len)]  # the longest prefix
                recipients.append(
                    {
                        "statusCode": refusal[0],
                        "number": number,
                        "status": refusal[1],
                        "cost": "0",
                        "messageId": "None",
                    }
                )
                continue
            message_id = f"ATXid_{next(self._ids):012d}"
            sent += 1
            self.total += 1
            self.per_number[number] += 1
            self.first_at = self.first_at or now
            self.last_at = now
            if self.keep_messages:
                self.received.append(
                    Received(number, message, message_id, now, str(form.get("from", "")))
                )
            recipients.append(
                {
                    "statusCode": 101,
                    "number": number,
                    "status": "Success",
                    "cost": "KES 0.8000",
                    "messageId": message_id,
                }
            )
            if self.dlr_url and self._dlr_queue is not None:
                self._dlr_queue.put_nowait(
                    {
                        "id": message_id,
                        "status": self.dlr_status,
                        "phoneNumber": number,
                        "networkCode": "63902",
                        "failureReason": "" if self.dlr_status == "Success" else "DeliveryFailure",
                        "retryCount": "0",
                    }
                )
        body = {
            "SMSMessageData": {
                "Message": f"Sent to {sent}/{len(numbers)} Total Cost: KES {0.8 * sent:.4f}",
                "Recipients": recipients,
            }
        }
        return web.json_response(body, status=201)

    async def _post_dlrs(self) -> None:
        assert self._dlr_queue is not None and self._session is not None
        while True:
            form = await self._dlr_queue.get()
            if self.dlr_delay:
                await asyncio.sleep(self.dlr_delay)
            for attempt in range(20):  # AT retries callbacks that fail
                try:
                    async with self._session.post(self.dlr_url or "", data=form) as response:
                        if response.status == 200:
                            self.dlrs_posted += 1
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(min(2.0, 0.05 * 2**attempt))
            else:
                self.dlrs_failed += 1

    def pending_dlrs(self) -> int:
        return 0 if self._dlr_queue is None else self._dlr_queue.qsize()

    async def post_opt_out(self, number: str) -> int:
        assert self._session is not None and self.optout_url
        form = {"senderId": "INFO", "phoneNumber": number}
        async with self._session.post(self.optout_url, data=form) as response:
            return response.status

    def messages_to(self, number: str) -> list[Received]:
        return [item for item in self.received if item.number == number]


@contextlib.asynccontextmanager
async def serving(double: ATDouble) -> AsyncIterator[str]:
    """The double on a loopback test server; yields its messaging URL."""
    from aiohttp.test_utils import TestServer

    server = TestServer(double.app())
    await server.start_server()
    try:
        yield str(server.make_url(MESSAGING_PATH))
    finally:
        await server.close()


async def _serve(args: argparse.Namespace) -> None:
    double = ATDouble(
        dlr_url=args.dlr_url, keep_messages=False, api_key=args.api_key, username=args.username
    )
    runner = web.AppRunner(double.app(), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", args.port)
    await site.start()
    print(f"at_double listening on {args.port}", flush=True)
    with contextlib.suppress(asyncio.CancelledError):
        while True:
            await asyncio.sleep(5)
            print(
                f"at_double total={double.total} requests={double.requests} "
                f"dlrs={double.dlrs_posted} pending={double.pending_dlrs()}",
                flush=True,
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--dlr-url", default=None)
    parser.add_argument("--api-key", default="at-double-key")
    parser.add_argument("--username", default="sandbox")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(parser.parse_args()))
