"""Bad bytes never get a 500, and never put the callback secret in a reply or a log:
each request is written byte for byte over a raw socket to the real gateway app
(console mounted), served as ``gateway serve`` serves it."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from cryptography.fernet import Fernet

from gateway.observability.access_log import PathOnlyAccessLogger
from gateway.server.app import create_app
from gateway.settings import Secret, Settings

SECRET = "raw-socket-callback-secret-0123456789"
FORM = b"sessionId=s1&serviceCode=*384%23&phoneNumber=%2B254700000001&networkCode=63902&text="
URLENCODED = (b"Content-Type", b"application/x-www-form-urlencoded")
KEY = (b"X-Callback-Key", SECRET.encode())


def request(
    method: bytes, target: bytes, headers: list[tuple[bytes, bytes]], body: bytes = b""
) -> bytes:
    lines = b"".join(name + b": " + value + b"\r\n" for name, value in headers)
    return (
        method + b" " + target + b" HTTP/1.1\r\nHost: gateway\r\nConnection: close\r\n"
        b"Content-Length: " + str(len(body)).encode() + b"\r\n" + lines + b"\r\n" + body
    )


def exchange(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    return received


@pytest.fixture
async def port(tmp_path: Path) -> AsyncIterator[int]:
    settings = Settings(
        data_dir=tmp_path,
        callback_secret=Secret(SECRET),
        hash_key=Secret("bad bytes test hash key, thirty-two chars"),
        encryption_key=Secret(Fernet.generate_key().decode()),
        console_key=Secret("bad bytes test console key, thirty-two chars"),
        audit_key=Secret("bad bytes test audit key, thirty-two chars"),
        sms_channel="none",
    )
    app = await create_app(settings, broadcast_worker=False)
    runner = web.AppRunner(app, access_log_class=PathOnlyAccessLogger, shutdown_timeout=1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    server = site._server
    assert server is not None
    yield int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    await runner.cleanup()


CASES: dict[str, tuple[bytes, tuple[int, ...], bytes]] = {
    # name: (request, allowed statuses, what the body must start with)
    "USSD: callback key header of bytes that are not UTF-8": (
        request(
            b"POST", b"/africastalking/ussd", [(b"X-Callback-Key", b"\xff\xfe"), URLENCODED], FORM
        ),
        (403,),
        b"",
    ),
    "USSD: unknown charset": (
        request(
            b"POST",
            b"/africastalking/ussd",
            [KEY, (b"Content-Type", b"application/x-www-form-urlencoded; charset=nonexistent")],
            FORM,
        ),
        (200,),
        b"END ",
    ),
    "USSD: malformed multipart": (
        request(
            b"POST",
            b"/africastalking/ussd",
            [KEY, (b"Content-Type", b"multipart/form-data; boundary=zz")],
            b'--zz\r\nContent-Disposition: form-data; name="text"\r\nbroken',
        ),
        (200,),
        b"END ",
    ),
    "USSD: body over 256 KiB": (
        request(
            b"POST", b"/africastalking/ussd", [KEY, URLENCODED], FORM + b"&pad=" + b"a" * 300_000
        ),
        (200,),
        b"END ",
    ),
    "USSD: secret in the URL with a byte that is not UTF-8": (
        request(
            b"POST", b"/africastalking/ussd?key=" + SECRET.encode() + b"&x=\xff", [URLENCODED], FORM
        ),
        (400,),
        b"400 Bad Request",
    ),
    "USSD: secret in the URL with a percent-encoded bad byte": (
        request(
            b"POST", b"/africastalking/ussd?key=" + SECRET.encode() + b"&x=%ff", [URLENCODED], FORM
        ),
        (200,),
        b"CON ",
    ),
    "SMS: unknown charset": (
        request(
            b"POST",
            b"/africastalking/sms",
            [KEY, (b"Content-Type", b"application/x-www-form-urlencoded; charset=nonexistent")],
            b"from=1&to=2&text=3&id=4&date=5",
        ),
        (400,),
        b"",
    ),
    "SMS: malformed multipart": (
        request(
            b"POST",
            b"/africastalking/sms/delivery",
            [KEY, (b"Content-Type", b"multipart/form-data; boundary=zz")],
            b"--zz\r\nbroken",
        ),
        (400,),
        b"",
    ),
    "SMS: callback key of bytes that are not UTF-8": (
        request(
            b"POST",
            b"/africastalking/sms/delivery",
            [(b"X-Callback-Key", b"\xff\xfe"), URLENCODED],
            b"id=1",
        ),
        (403,),
        b"",
    ),
    "console: cookie of bytes that are not UTF-8": (
        request(b"GET", b"/console/login", [(b"Cookie", b"console_session=\xff\xfe\xfd")]),
        (200,),
        b"<!doctype html>",
    ),
    "console: headers of bytes that are not UTF-8": (
        request(
            b"GET", b"/console/login", [(b"User-Agent", b"\xff\xfe"), (b"X-Forwarded-For", b"\xff")]
        ),
        (200,),
        b"<!doctype html>",
    ),
    "console: a URL with a byte that is not UTF-8": (
        request(b"GET", b"/console/\xff", []),
        (400,),
        b"",
    ),
}


async def test_bad_bytes_get_a_clear_answer_and_no_secret_leaks(
    port: int, capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    loop = asyncio.get_running_loop()
    for name, (data, statuses, body_start) in CASES.items():
        answer = await loop.run_in_executor(None, exchange, port, data)
        status_line, _, rest = answer.partition(b"\r\n")
        status = int(status_line.split()[1])
        body = rest.partition(b"\r\n\r\n")[2]
        assert status in statuses, (name, status, body[:200])
        assert body.startswith(body_start), (name, body[:200])
        assert SECRET.encode() not in answer, name
    captured = capfd.readouterr()
    assert SECRET not in captured.out + captured.err + caplog.text


async def test_a_console_form_that_cannot_be_read_is_a_400(port: int) -> None:
    loop = asyncio.get_running_loop()
    page = await loop.run_in_executor(None, exchange, port, request(b"GET", b"/console/login", []))
    cookie = page.split(b"Set-Cookie: ", 1)[1].split(b";", 1)[0]
    for content_type in (
        b"multipart/form-data; boundary=zz",
        b"application/x-www-form-urlencoded; charset=nonexistent",
    ):
        answer = await loop.run_in_executor(
            None,
            exchange,
            port,
            request(
                b"POST",
                b"/console/login",
                [(b"Cookie", cookie), (b"Content-Type", content_type)],
                b"--zz\r\nbroken",
            ),
        )
        assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
