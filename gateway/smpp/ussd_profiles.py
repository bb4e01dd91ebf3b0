"""USSD over SMPP: what an SMSC's ussd_service_op codes mean, per connection. Pure.

Vendors disagree on the op codes, so their meaning is a :class:`USSDProfile` chosen
by ``SMSCSettings.ussd_profile``. An inbound deliver_sm with ``ussd_service_op``
starts, continues or aborts a session; the reply is a submit_sm with the profile's
continue or end op code and the ``its_session_info`` echoed (end bit set on the last
screen).

``its_session_info`` is two octets: the session number, then a 7-bit sequence number
and the end-of-session flag in the lowest bit.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from gateway.errors import GatewayError
from gateway.smpp.pdu import TAGS, TLV, ShortMessagePDU, integer_tlv

USSD_SERVICE_OP = TAGS["ussd_service_op"]
ITS_SESSION_INFO = TAGS["its_session_info"]
USER_MESSAGE_REFERENCE = TAGS["user_message_reference"]
# A session with no id is the same person on the same code, idle no longer than this.
NO_ID_WINDOW = 120.0


class USSDAction(Enum):
    BEGIN = "begin"  # a new session: the text is the dialled code
    CONTINUE = "continue"  # the handset's answer to our last screen
    ABORT = "abort"  # the user or network ended the session


@dataclass(frozen=True)
class USSDProfile:
    name: str
    begin: frozenset[int]
    resume: frozenset[int]
    abort: frozenset[int]
    reply_continue: int
    reply_end: int
    session_by: str = "its"  # its | 6d | umr | none

    def action(self, op: int) -> USSDAction | None:
        if op in self.begin:
            return USSDAction.BEGIN
        if op in self.resume:
            return USSDAction.CONTINUE
        if op in self.abort:
            return USSDAction.ABORT
        return None

    def reply_op(self, end: bool) -> int:
        return self.reply_end if end else self.reply_continue


PROFILES: dict[str, USSDProfile] = {
    # 3GPP TS 23.090 as SMPP carries it: 1 PSSR indication opens, 18 USSR confirm
    # answers our 2 USSR request, 17 PSSR response closes.
    "3gpp": USSDProfile(
        name="3gpp",
        begin=frozenset({1}),
        resume=frozenset({18}),
        abort=frozenset(),
        reply_continue=2,
        reply_end=17,
    ),
    # Vendors that report the user's release with 0x81 and may resume with 0x21/0x12.
    "vendor-0x81": USSDProfile(
        name="vendor-0x81",
        begin=frozenset({1}),
        resume=frozenset({18, 0x21}),
        abort=frozenset({0x81}),
        reply_continue=2,
        reply_end=17,
    ),
    "6d": USSDProfile(
        name="6d",
        begin=frozenset({0x01}),
        resume=frozenset({0x12}),
        abort=frozenset({0x81}),
        reply_continue=2,
        reply_end=17,
        session_by="6d",
    ),
    "mica": USSDProfile(
        name="mica",
        begin=frozenset({1}),
        resume=frozenset({18}),
        abort=frozenset({0x81}),
        reply_continue=2,
        reply_end=17,
        session_by="umr",
    ),
    "no-session-id": USSDProfile(
        name="no-session-id",
        begin=frozenset({1}),
        resume=frozenset({18}),
        abort=frozenset({0x81}),
        reply_continue=2,
        reply_end=17,
        session_by="none",
    ),
}


class UnknownProfileError(GatewayError, KeyError):
    """``SMSCSettings.ussd_profile`` names no profile here."""


def profile(name: str) -> USSDProfile:
    try:
        return PROFILES[name]
    except KeyError:
        raise UnknownProfileError(f"no USSD profile {name!r}; known: {sorted(PROFILES)}") from None


@dataclass(frozen=True)
class USSDIndication:
    """What an inbound USSD deliver_sm says."""

    op: int
    action: USSDAction | None  # None: an op code the profile does not know
    session_number: int | None  # the profile's session id; None when it has none
    session_info: int | None  # the raw two octets of its_session_info, to echo
    text: str
    message_reference: int | None = None  # user_message_reference, to echo (Mica)
    sequenced: bool = True  # session_info changes with every exchange (3GPP)


def read_indication(pdu: ShortMessagePDU, profile: USSDProfile, text: str) -> USSDIndication | None:
    """The USSD meaning of ``pdu``, or None when it carries no ussd_service_op."""
    op = pdu.tlv_int(USSD_SERVICE_OP)
    if op is None:
        return None
    info = pdu.tlv_int(ITS_SESSION_INFO)
    reference = pdu.tlv_int(USER_MESSAGE_REFERENCE)
    if profile.session_by == "6d":
        number = None if info is None else info >> 1
    elif profile.session_by == "umr":
        number = reference
    elif profile.session_by == "none":
        number = None
    else:
        number = None if info is None else info >> 8
    return USSDIndication(
        op=op,
        action=profile.action(op),
        session_number=number,
        session_info=info,
        text=text,
        message_reference=reference,
        sequenced=profile.session_by == "its",
    )


def reply_tlvs(
    profile: USSDProfile,
    session_info: int | None,
    end: bool,
    message_reference: int | None = None,
) -> tuple[TLV, ...]:
    """The TLVs of our reply: the op code, its_session_info echoed (end bit on end),
    and user_message_reference echoed when the session is keyed by it."""
    tlvs = [integer_tlv("ussd_service_op", profile.reply_op(end))]
    if session_info is not None:
        echoed = (session_info & 0xFFFE) | (1 if end else 0)
        tlvs.append(integer_tlv("its_session_info", echoed))
    if message_reference is not None:
        tlvs.append(integer_tlv("user_message_reference", message_reference))
    return tuple(tlvs)
