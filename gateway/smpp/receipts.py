"""Delivery receipts: read them, and tie them back to what we submitted. Pure.

A receipt is a deliver_sm with esm_class message type 0x04. Its facts come from the
``receipted_message_id`` and ``message_state`` TLVs when present, else from the text
``id:XXXX sub:001 dlvrd:001 submit date:... done date:... stat:DELIVRD err:000``.
SMSCs disagree on the id's base: the submit_sm_resp may say ``1a2b`` and the receipt
``6699``, so ids are matched in both readings (:func:`id_variants`).

A long message went out as several parts, each with its own id; the
:class:`ReceiptTracker` reports it once, with the first part's id, when every part
has a final state (delivered only if all were).
"""

from __future__ import annotations

import re
from collections import OrderedDict
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
_HEX = re.compile(r"[0-9a-fA-F]{1,40}")
_DECIMAL = re.compile(r"[0-9]{1,40}")
_FIELD = re.compile(r"(id|stat|err):\s*([^\s]+)", re.IGNORECASE)
_SEVERITY = (
    DeliveryState.REJECTED,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.OPTED_OUT,
)


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


def id_variants(message_id: str) -> list[str]:
    """``message_id`` as written, then read as hex shown in decimal, and decimal in hex."""
    variants = [message_id.lower()]
    if _HEX.fullmatch(message_id):
        variants.append(str(int(message_id, 16)))
    if _DECIMAL.fullmatch(message_id):
        variants.append(format(int(message_id), "x"))
    return variants


@dataclass
class _Submitted:
    canonical_id: str
    part_ids: tuple[str, ...]
    states: dict[str, DeliveryState]


class ReceiptTracker:
    """Remembers which part ids make one message, bounded to ``capacity`` messages."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._by_part: OrderedDict[str, _Submitted] = OrderedDict()

    def __len__(self) -> int:
        return len(self._by_part)

    def submitted(self, part_ids: tuple[str, ...]) -> None:
        if not part_ids:
            return
        record = _Submitted(part_ids[0], part_ids, {})
        for part_id in part_ids:
            for variant in id_variants(part_id):
                self._by_part[variant] = record
        while len(self._by_part) > self.capacity:
            self._by_part.popitem(last=False)

    def receive(self, receipt: Receipt) -> Receipt | None:
        """The message-level receipt to report now, or None while parts are missing."""
        record = None
        for variant in id_variants(receipt.message_id):
            record = self._by_part.get(variant)
            if record is not None:
                break
        if record is None:  # not ours, or forgotten: report it as it came
            return receipt
        part_id = next(
            (p for p in record.part_ids if receipt.message_id.lower() in id_variants(p)),
            record.part_ids[0],
        )
        if len(record.part_ids) == 1:
            if receipt.state.is_final:
                self._drop(record)
            return Receipt(record.canonical_id, receipt.state, receipt.error)
        record.states[part_id] = receipt.state
        finals = [state for state in record.states.values() if state.is_final]
        if len(finals) < len(record.part_ids):
            return None
        self._drop(record)
        worst = next((s for s in _SEVERITY if s in finals), DeliveryState.DELIVERED)
        return Receipt(record.canonical_id, worst, receipt.error)

    def _drop(self, record: _Submitted) -> None:
        for part_id in record.part_ids:
            for variant in id_variants(part_id):
                self._by_part.pop(variant, None)
