"""Africa's Talking SMS callbacks as aiohttp routes: inbound SMS, delivery reports,
opt-outs. The lead mounts them (``app.add_routes(create_sms_routes(...))``) at
``/africastalking/sms``, ``/africastalking/sms/delivery``, ``/africastalking/sms/optout``.

AT signs nothing, so each request must carry the shared secret, in the ``key`` query
parameter or the ``X-Callback-Key`` header, compared in constant time; anything else
gets 403 (the access log must not print the query string). A handler answers 200
only after the sink has stored the item, so AT's retry covers a crash. A form that
is missing a field gets 400 with the field's name and is not stored.
"""

from __future__ import annotations

import time
from typing import Protocol

import structlog
from aiohttp import web

from gateway.africastalking.callback_auth import is_authentic
from gateway.privacy.phone_numbers import e164_or_reject
from gateway.settings import Secret
from gateway.sms.messages import DeliveryReport, DeliveryState, InboundSink, InboundSMS
from gateway.ussd.networks import country_from_network

log = structlog.get_logger(__name__)

CHANNEL = "africastalking"

# AT delivery statuses. Success, Failed and Rejected are final.
_DLR_STATES = {
    "sent": DeliveryState.SUBMITTED,
    "submitted": DeliveryState.SUBMITTED,
    "buffered": DeliveryState.BUFFERED,
    "success": DeliveryState.DELIVERED,
    "failed": DeliveryState.FAILED,
    "rejected": DeliveryState.REJECTED,
}
# failureReason values that mean the person blocked us: a permanent opt-out.
_OPT_OUT_REASONS = frozenset({"userinblacklist", "userinblocklist"})


class SMSCallbackSink(InboundSink, Protocol):
    async def on_opt_out(self, channel: str, msisdn: str) -> None: ...


def callback_key_ok(request: web.Request, secret: Secret) -> bool:
    return is_authentic(request, secret)


def delivery_state(status: str, failure_reason: str) -> DeliveryState | None:
    if failure_reason.replace(" ", "").lower() in _OPT_OUT_REASONS:
        return DeliveryState.OPTED_OUT
    return _DLR_STATES.get(status.strip().lower())


class _Handlers:
    def __init__(self, sink: SMSCallbackSink, secret: Secret) -> None:
        self.sink = sink
        self.secret = secret

    async def _form(self, request: web.Request, required: tuple[str, ...]) -> dict[str, str]:
        if not callback_key_ok(request, self.secret):
            log.warning("at_sms.callback_forbidden", path=request.path)
            raise web.HTTPForbidden(text="forbidden")
        try:
            form = await request.post()
        except web.HTTPRequestEntityTooLarge:
            raise web.HTTPBadRequest(text="the form is too large") from None
        except Exception as exc:  # bad bytes: unknown charset, broken multipart, ...
            log.warning("at_sms.bad_form", path=request.path, error=type(exc).__name__)
            raise web.HTTPBadRequest(text="the form could not be read") from None
        values = {key: str(value) for key, value in form.items()}
        missing = [name for name in required if not values.get(name, "").strip()]
        if missing:
            raise web.HTTPBadRequest(text=f"missing field(s): {', '.join(missing)}")
        return values

    @staticmethod
    def _number(form: dict[str, str], name: str, where: str) -> str | None:
        """The form's number as E.164; a number nobody can read is counted, and the
        callback still gets 200 (AT would only retry it)."""
        country = country_from_network(form.get("networkCode", ""))
        return e164_or_reject(form[name], country, CHANNEL, where)

    async def inbound(self, request: web.Request) -> web.Response:
        form = await self._form(request, ("from", "to", "id"))
        sender = self._number(form, "from", "sms")
        if sender is None:
            return web.Response(text="OK")
        message = InboundSMS(
            channel=CHANNEL,
            sender=sender,
            recipient=form["to"],
            text=form.get("text", ""),
            message_id=form["id"],
            received_at=time.time(),
            network_country=country_from_network(form.get("networkCode", "")),
        )
        await self.sink.on_inbound_sms(message)
        return web.Response(text="OK")

    async def delivery(self, request: web.Request) -> web.Response:
        form = await self._form(request, ("id", "status"))
        state = delivery_state(form["status"], form.get("failureReason", ""))
        if state is None:
            raise web.HTTPBadRequest(text="unknown status")
        error = form.get("failureReason", "")[:80]
        await self.sink.on_delivery_report(DeliveryReport(CHANNEL, form["id"], state, error))
        if state is DeliveryState.OPTED_OUT and form.get("phoneNumber"):
            number = self._number(form, "phoneNumber", "delivery_report")
            if number is not None:
                await self.sink.on_opt_out(CHANNEL, number)
        return web.Response(text="OK")

    async def opt_out(self, request: web.Request) -> web.Response:
        form = await self._form(request, ("phoneNumber",))
        number = self._number(form, "phoneNumber", "opt_out")
        if number is not None:
            await self.sink.on_opt_out(CHANNEL, number)
        return web.Response(text="OK")


def create_sms_routes(
    sink: SMSCallbackSink, secret: Secret, prefix: str = "/africastalking/sms"
) -> list[web.RouteDef]:
    handlers = _Handlers(sink, secret)
    return [
        web.post(prefix, handlers.inbound),
        web.post(f"{prefix}/delivery", handlers.delivery),
        web.post(f"{prefix}/optout", handlers.opt_out),
    ]
