"""``POST /africastalking/ussd`` and ``/africastalking/ussd/end``.

Whatever the form holds, an authenticated callback gets HTTP 200 with a ``CON`` or
``END`` screen: a 4xx/5xx would show the handset a generic network error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import structlog
from aiohttp import web

from gateway.africastalking.callback_auth import forbidden, is_authentic
from gateway.africastalking.ussd_dialect import (
    CHANNEL,
    UnreadableNumber,
    parse_session_end,
    parse_ussd_form,
    render,
)
from gateway.menu.model import Tree
from gateway.privacy.phone_numbers import REJECTIONS
from gateway.settings import Secret
from gateway.ussd.dropoff import SessionEndRecorder
from gateway.ussd.service import USSDService
from gateway.ussd.types import USSDReply

log = structlog.get_logger("gateway.ussd")


def _text(body: str) -> web.Response:
    return web.Response(text=body, content_type="text/plain", charset="utf-8")


def ussd_routes(
    service: USSDService,
    secret: Secret,
    tree: Callable[[], Tree],
    dropoff: SessionEndRecorder,
    today: Callable[[], dt.date] = dt.date.today,
) -> list[web.RouteDef]:
    async def ussd(request: web.Request) -> web.Response:
        if not is_authentic(request, secret):
            return forbidden()
        try:
            form = await request.post()
            ussd_request = parse_ussd_form({k: str(v) for k, v in form.items()})
        except (web.HTTPRequestEntityTooLarge, Exception) as exc:
            # Garbage, an unknown charset, broken multipart, a body over the limit: the
            # handset still gets a polite closing screen, never an error.
            if isinstance(exc, UnreadableNumber):
                REJECTIONS.reject(CHANNEL, "ussd")
            log.warning("ussd.bad_form", error=type(exc).__name__)
            current = tree()
            text = current.nav("unavailable", current.fallback_language)
            return _text(render(USSDReply(text, True)))
        try:
            reply = await service.handle(ussd_request)
        except Exception as exc:  # a bug must still leave the handset a polite screen
            log.error("ussd.unexpected_error", error=type(exc).__name__)
            current = tree()
            reply = USSDReply(current.nav("unavailable", current.fallback_language), True)
        return _text(render(reply))

    async def session_end(request: web.Request) -> web.Response:
        if not is_authentic(request, secret):
            return forbidden()
        try:
            form = await request.post()
            end = parse_session_end({k: str(v) for k, v in form.items()})
        except (web.HTTPRequestEntityTooLarge, Exception) as exc:
            log.warning("ussd.bad_session_end", error=type(exc).__name__)
            return _text("OK")
        try:
            screen = (
                await service.session_screen(end.session_id, CHANNEL, end.msisdn)
                if end.msisdn
                else None
            )
            await dropoff.record_end(today(), screen or "__unknown__", end.status, end.service_code)
        except Exception as exc:  # a store being down must not fail AT's call
            log.warning("ussd.session_end_unrecorded", error=type(exc).__name__)
            return _text("OK")
        log.info("ussd.session_end", screen=screen, status=end.status, hops=end.hops)
        return _text("OK")

    return [
        web.post("/africastalking/ussd", ussd),
        web.post("/africastalking/ussd/end", session_end),
    ]
