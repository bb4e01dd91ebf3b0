"""Delivery receipts: read them. Pure.

A receipt is a deliver_sm with esm_class message type 0x04. Its facts come from the
``receipted_message_id`` and ``message_state`` TLVs when present, else from the text
``id:XXXX sub:001 dlvrd:001 submit date:... done date:... stat:DELIVRD err:000``.
Tying a receipt to the message it is for is :mod:`gateway.smpp.receipt_tracker`'s job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateway.smpp.pdu import TAGS, ShortMessagePDU
from gateway.sms.messages import DeliveryState

RECEIPT_TYPE_MASK = 0x3C
RECEIPT_TYPE = 0x04

_STAT = {
    "DELIVRD": DeliveryState.DELIVERED,
    "EXPIRED": DeliveryState.EXPIRED,
    "DELETED": DeliveryState.FAILED,
    "UNDELIV": DeliveryState.FAILED,
    "ACCEPTD": DeliveryState.BUFFERED,
    "UNKNOWN": DeliveryState.BUFFERED,
    "REJECTD": DeliveryState.REJECTED,
    "ENROUTE": DeliveryState.BUFFERED,
}
# message_state TLV values (SMPP 3.4 section 5.2.28).
_MESSAGE_STATE = {
    1: DeliveryState.BUFFERED,  # ENROUTE
    2: DeliveryState.DELIVERED,
    3: DeliveryState.EXPIRED,
    4: DeliveryState.FAILED,  # DELETED
    5: DeliveryState.FAILED,  # UNDELIVERABLE
    6: DeliveryState.BUFFERED,  # ACCEPTED
    7: DeliveryState.BUFFERED,  # UNKNOWN
    8: DeliveryState.REJECTED,
}
_FIELD = re.compile(r"(id|stat|err):\s*([^\s]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Receipt:
    message_id: str
    state: DeliveryState
    error: str = ""


def is_receipt(pdu: ShortMessagePDU) -> bool:
    return pdu.esm_class & RECEIPT_TYPE_MASK == RECEIPT_TYPE


def parse_receipt(pdu: ShortMessagePDU) -> Receipt | None:
    """The receipt in ``pdu``, or None when it carries neither an id nor a state."""
    text = pdu.short_message.decode("latin-1")
    found = {key.lower(): value for key, value in _FIELD.findall(text)}
    message_id = pdu.tlv_text(TAGS["receipted_message_id"]) or found.get("id", "")
    state_code = pdu.tlv_int(TAGS["message_state"])
    state = _MESSAGE_STATE.get(state_code) if state_code is not None else None
    if state is None:
        state = _STAT.get(found.get("stat", "").upper())
    if not message_id or state is None:
        return None
    error = found.get("err", "")
    return Receipt(message_id, state, "" if error.strip("0") == "" else error)
