"""Malformed requests: answered without a 500, and without echoing what was sent.

Two places where a request can fail before or outside a handler's own care:

- aiohttp's HTTP parser refuses a request line it cannot read (bytes that are not
  UTF-8 in the URL, say) and, left alone, answers 400 with the whole request line in
  the body and logs it with a traceback: with ``?key=<callback secret>`` in the URL,
  both would carry the secret. :func:`quiet_protocol_errors` makes those answers a
  bare status line and the log line the error's class only;
- a handler that meets input it did not expect: :func:`error_guard` turns the
  exception into 400 (bad bytes) or 500, logged with the path (never the query) and the
  exception's class, and gives an Africa's Talking USSD callback a polite ``END``
  screen with HTTP 200 whatever happened, since any error shows the handset a generic
  network failure.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from http import HTTPStatus
from typing import Any

import structlog
from aiohttp import web, web_protocol
from aiohttp.web_request import BaseRequest

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

log = structlog.get_logger("gateway.http")
USSD_PATHS = ("/africastalking/ussd",)
POLITE_END = "END Service busy. Please try again in a few minutes."
BAD_INPUT = (UnicodeError, LookupError, ValueError)


def _bare_error(
    self: web_protocol.RequestHandler,
    request: BaseRequest,
    status: int = 500,
    exc: BaseException | None = None,
    message: str | None = None,
) -> web.StreamResponse:
    log.warning(
        "http.protocol_error", status=status, error=type(exc).__name__ if exc else "unknown"
    )
    if request.writer.output_size > 0:
        raise ConnectionError("response already started; closing the connection")
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else ""
    response = web.Response(status=status, text=f"{status} {phrase}\n", content_type="text/plain")
    response.force_close()
    return response


def quiet_protocol_errors() -> None:
    """Install :func:`_bare_error` as aiohttp's error answer (idempotent)."""
    handler: Any = web_protocol.RequestHandler
    handler.handle_error = _bare_error


@web.middleware
async def error_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException:
        raise
    except Exception as exc:  # the process never dies of input, and says nothing of it
        bad_input = isinstance(exc, BAD_INPUT)
        log.error("http.unhandled_error", path=request.path, error=type(exc).__name__)
        if request.path.startswith(USSD_PATHS):
            return web.Response(text=POLITE_END, content_type="text/plain", charset="utf-8")
        if bad_input:
            return web.Response(status=400, text="Bad request\n", content_type="text/plain")
        return web.Response(status=500, text="Internal error\n", content_type="text/plain")
