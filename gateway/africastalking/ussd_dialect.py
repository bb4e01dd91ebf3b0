"""The Africa's Talking USSD dialect: form fields in, ``CON``/``END`` text out. Pure.

AT POSTs ``sessionId``, ``serviceCode``, ``phoneNumber``, ``networkCode`` and
``text`` (every input so far, joined by ``*``). The reply is ``text/plain``:
``CON <screen>`` keeps the session open, ``END <screen>`` closes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from gateway.errors import GatewayError
from gateway.privacy.phone_numbers import to_e164
from gateway.ussd.networks import country_from_network
from gateway.ussd.types import USSDReply, USSDRequest

CHANNEL = "africastalking"
MAX_FIELD = 512  # longer fields are cut: nothing legitimate is that long


class ATFormError(GatewayError, ValueError):
    """The callback lacks a field without which no session can be served."""


class UnreadableNumber(ATFormError):
    """``phoneNumber`` is not a phone number (in any script, with the network's country)."""


def _field(form: Mapping[str, str], name: str) -> str:
    return str(form.get(name, ""))[:MAX_FIELD]


def parse_ussd_form(form: Mapping[str, str]) -> USSDRequest:
    session_id = _field(form, "sessionId").strip()
    phone = _field(form, "phoneNumber").strip()
    if not session_id or not phone:
        raise ATFormError("sessionId and phoneNumber are required")
    text = _field(form, "text")
    network_code = _field(form, "networkCode").strip()
    msisdn = to_e164(phone, country_from_network(network_code))
    if msisdn is None:
        raise UnreadableNumber("phoneNumber is not a phone number")
    return USSDRequest(
        channel=CHANNEL,
        session_id=session_id,
        msisdn=msisdn,
        service_code=_field(form, "serviceCode"),
        network_code=network_code,
        user_input=text,
        replay_key=text,
        cumulative=True,
    )


def render(reply: USSDReply) -> str:
    return ("END " if reply.end else "CON ") + reply.text


@dataclass(frozen=True)
class SessionEnd:
    """AT's end-of-session notification, reduced to what aggregate counts need."""

    session_id: str
    status: str  # Success | Incomplete | Failed (anything else is kept as "Other")
    hops: int
    duration_ms: int
    # E.164, "" when absent or unreadable: with the session id, it finds the session.
    msisdn: str = field(default="", repr=False)
    service_code: str = ""  # the code the session came on: picks the service


_STATUSES = ("Success", "Incomplete", "Failed")


def parse_session_end(form: Mapping[str, str]) -> SessionEnd:
    session_id = _field(form, "sessionId").strip()
    if not session_id:
        raise ATFormError("sessionId is required")
    status = _field(form, "status").strip()

    def number(name: str) -> int:
        raw = _field(form, name).strip()
        return int(raw) if raw.isdigit() else 0

    phone = _field(form, "phoneNumber").strip()
    network_code = _field(form, "networkCode").strip()
    return SessionEnd(
        session_id=session_id,
        status=status if status in _STATUSES else "Other",
        msisdn=(to_e164(phone, country_from_network(network_code)) or "") if phone else "",
        hops=number("hopsCount"),
        duration_ms=number("durationInMillis"),
        service_code=_field(form, "serviceCode").strip()[:64],
    )
