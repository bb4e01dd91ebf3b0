"""The terminal phone: dial the tree as a handset would, through the AT dialect.

``gateway simulate`` walks the tree interactively; ``--script FILE`` replays a
scripted session and fails on the first screen that does not match. With ``--url``
it posts real Africa's Talking callbacks to a running gateway; without, it runs the
same service in-process on the configured tree.

A script is YAML::

    network: "63902"          # optional networkCode (Kenya)
    steps:
      - expect: ["1 English"]         # the first screen, after dialling
      - send: "1"
        expect: ["Safe journey info"]
      - send: "99"
        end: true                     # the screen must close the session
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sys
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import aiohttp

from gateway.africastalking.ussd_dialect import parse_ussd_form, render
from gateway.content.safe_yaml import YAMLRefused, read_yaml_file
from gateway.errors import GatewayError
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.ussd.service import USSDService


@dataclass(frozen=True)
class Screen:
    text: str
    end: bool


def parse_reply(body: str) -> Screen:
    if body.startswith("CON "):
        return Screen(body[4:], False)
    if body.startswith("END "):
        return Screen(body[4:], True)
    raise ValueError(f"not an AT reply: {body[:40]!r}")


class Phone(Protocol):
    async def request(self, form: dict[str, str]) -> str: ...

    async def close(self) -> None: ...


class HTTPPhone:
    def __init__(self, base_url: str, secret: str) -> None:
        self._url = base_url.rstrip("/") + "/africastalking/ussd"
        self._secret = secret
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def request(self, form: dict[str, str]) -> str:
        headers = {"X-Callback-Key": self._secret}
        async with self._session.post(self._url, data=form, headers=headers) as response:
            body = await response.text()
            if response.status != 200:
                raise RuntimeError(f"gateway answered HTTP {response.status}: {body[:80]}")
            return body

    async def close(self) -> None:
        await self._session.close()


class InProcessPhone:
    """The same service the HTTP endpoint uses, without the HTTP hop: built by the
    server's runtime (:func:`gateway.server.runtime.open_runtime`), with sessions in
    memory, effects recorded rather than performed, and no SMS channel."""

    def __init__(self, stack: AsyncExitStack, service: USSDService, effects: Any) -> None:
        self._stack = stack
        self._service = service
        self.effects = effects

    @classmethod
    async def open(cls, settings: Settings) -> InProcessPhone:
        from gateway.menu.effect_port import RecordingEffectHandler
        from gateway.server.runtime import open_runtime
        from gateway.ussd.sessions import MemorySessionStore

        effects = RecordingEffectHandler()
        stack = AsyncExitStack()
        runtime = await stack.enter_async_context(
            open_runtime(
                settings,
                session_store=MemorySessionStore(),
                effects=effects,
                broadcast_worker=False,
                open_channel=False,
            )
        )
        return cls(stack, runtime.ussd, effects)

    async def request(self, form: dict[str, str]) -> str:
        return render(await self._service.handle(parse_ussd_form(form)))

    async def close(self) -> None:
        await self._stack.aclose()


class Call:
    """One USSD session: keeps the cumulative ``text`` the way AT does."""

    def __init__(self, phone: Phone, number: str, network: str, service_code: str) -> None:
        self._phone = phone
        self._inputs: list[str] = []
        self._form = {
            "sessionId": "SIM" + secrets.token_hex(8),
            "phoneNumber": number,
            "networkCode": network,
            "serviceCode": service_code,
        }

    async def dial(self) -> Screen:
        return await self._send()

    async def press(self, text: str) -> Screen:
        self._inputs.append(text)
        return await self._send()

    async def _send(self) -> Screen:
        form = dict(self._form, text="*".join(self._inputs))
        return parse_reply(await self._phone.request(form))


async def _phone(args: argparse.Namespace, settings: Settings) -> Phone:
    if args.url:
        return HTTPPhone(args.url, settings.callback_secret.reveal())
    return await InProcessPhone.open(settings)


class ScriptError(GatewayError, ValueError):
    pass


def _load_script(path: Any) -> dict[str, Any]:
    try:
        data = read_yaml_file(path).data
    except YAMLRefused as exc:
        raise ScriptError(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("steps"), list):
        raise ScriptError(f"{path}: a script is a mapping with a 'steps' list")
    return data


async def run_script(phone: Phone, script: dict[str, Any], number: str) -> list[str]:
    """Play ``script``; return the failures (empty when every screen matched)."""
    call = Call(phone, str(script.get("phone", number)), str(script.get("network", "")), "*384#")
    failures: list[str] = []
    for index, raw in enumerate(script["steps"], start=1):
        item = raw if isinstance(raw, dict) else {"send": str(raw)}
        screen = await (
            call.dial() if index == 1 and "send" not in item else call.press(str(item["send"]))
        )
        expected = item.get("expect", [])
        for fragment in [expected] if isinstance(expected, str) else expected:
            if str(fragment) not in screen.text:
                failures.append(
                    f"step {index} (send {item.get('send', 'dial')!r}): expected {fragment!r} in\n"
                    f"{screen.text}"
                )
        if "end" in item and bool(item["end"]) != screen.end:
            failures.append(f"step {index}: expected end={item['end']}, got end={screen.end}")
        if failures:
            break
    return failures


async def _interactive(phone: Phone, number: str, network: str) -> int:
    call = Call(phone, number, network, "*384#")
    screen = await call.dial()
    while True:
        print("\n" + "-" * 24 + "\n" + screen.text + "\n" + "-" * 24)
        if screen.end:
            print("(session ended)")
            return 0
        try:
            entry = await asyncio.to_thread(input, "> ")
        except EOFError:
            return 0
        screen = await call.press(entry)


def run(args: argparse.Namespace) -> int:
    from gateway.observability.logs import configure

    settings = Settings.from_env()
    configure(settings.log_format, "warning")  # the screens are the output here

    async def main() -> int:
        phone = await _phone(args, settings)
        try:
            if args.script:
                failures = await run_script(phone, _load_script(args.script), args.phone)
                for failure in failures:
                    print(f"MISMATCH {failure}", file=sys.stderr)
                if not failures:
                    print(f"{args.script}: every screen matched")
                return 1 if failures else 0
            return await _interactive(phone, args.phone, args.network)
        finally:
            await phone.close()

    try:
        return asyncio.run(main())
    except (ScriptError, OSError, RuntimeError, aiohttp.ClientError) as exc:
        print(f"gateway simulate: {exc}", file=sys.stderr)
        return 1
