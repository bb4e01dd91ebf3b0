"""The PDUs this gateway speaks, as frozen dataclasses, with their wire layout.

Command ids, status codes and the optional-parameter (TLV) tag table come from
smpplib, the project's named SMPP library (``smpplib.command_codes`` and
``smpplib.consts``): those tables are right. Its PDU classes and parser are not used:
its deliver_sm knows no ``ussd_service_op`` and raises on it, its parser raises
``struct.error``/``KeyError`` on bad bytes and allocates whatever ``command_length``
says. :mod:`gateway.smpp.codec` reads the bytes instead, using the layouts below.

Every PDU carries ``sequence``, ``status`` (command_status) and ``tlvs``, the optional
parameters in wire order (unknown tags kept raw so a PDU re-encodes byte for byte).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from enum import Enum
from typing import ClassVar

from smpplib import command_codes, consts


class Kind(Enum):
    """How one mandatory field sits on the wire."""

    CSTRING = "cstring"  # NUL-terminated octets, held as a latin-1 str
    UINT8 = "uint8"
    SHORT_MESSAGE = "short_message"  # sm_length octet, then that many octets


def command_id(name: str) -> int:
    return int(command_codes.commands[name])


# Tags of the optional parameters, by smpplib's names.
TAGS: dict[str, int] = {name: int(tag) for name, tag in consts.OPTIONAL_PARAMS.items()}
TAG_NAMES: dict[int, str] = {tag: name for name, tag in TAGS.items()}

# Known TLVs whose value is an unsigned integer of a fixed size, by SMPP 3.4 section 5.3.
# A known tag with another length is a protocol error (ESME_RINVPARLEN).
INTEGER_TLV_SIZES: dict[int, int] = {
    TAGS[name]: size
    for name, size in {
        "dest_addr_subunit": 1,
        "dest_network_type": 1,
        "dest_bearer_type": 1,
        "dest_telematics_id": 2,
        "source_addr_subunit": 1,
        "source_network_type": 1,
        "source_bearer_type": 1,
        "source_telematics_id": 1,
        "qos_time_to_live": 4,
        "payload_type": 1,
        "ms_msg_wait_facilities": 1,
        "privacy_indicator": 1,
        "user_message_reference": 2,
        "user_response_code": 1,
        "source_port": 2,
        "destination_port": 2,
        "sar_msg_ref_num": 2,
        "language_indicator": 1,
        "sar_total_segments": 1,
        "sar_segment_seqnum": 1,
        "sc_interface_version": 1,
        "callback_num_pres_ind": 1,
        "number_of_messages": 1,
        "dpf_result": 1,
        "set_dpf": 1,
        "ms_availability_status": 1,
        "delivery_failure_reason": 1,
        "more_messages_to_send": 1,
        "message_state": 1,
        "ussd_service_op": 1,
        "display_time": 1,
        "sms_signal": 2,
        "ms_validity": 1,
        "its_reply_type": 1,
        "its_session_info": 2,
    }.items()
}
# network_error_code is three octets: network type, then a two-octet error code.
NETWORK_ERROR_CODE_SIZE = 3
CSTRING_TLVS = frozenset({TAGS["receipted_message_id"]})


@dataclass(frozen=True, slots=True)
class TLV:
    tag: int
    value: bytes


@dataclass(frozen=True, slots=True)
class PDU:
    """Fields common to every PDU. Subclasses fix ``COMMAND_ID`` and ``LAYOUT``."""

    sequence: int = 0
    status: int = 0
    tlvs: tuple[TLV, ...] = ()

    COMMAND_ID: ClassVar[int] = 0
    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = ()

    @property
    def command_id(self) -> int:
        return self.COMMAND_ID

    @property
    def is_response(self) -> bool:
        return bool(self.COMMAND_ID & 0x80000000)

    def tlv(self, tag: int) -> bytes | None:
        """The value of the first TLV with ``tag``, or None."""
        for item in self.tlvs:
            if item.tag == tag:
                return item.value
        return None

    def tlv_int(self, tag: int) -> int | None:
        value = self.tlv(tag)
        return None if value is None else int.from_bytes(value, "big")

    def tlv_text(self, tag: int) -> str | None:
        value = self.tlv(tag)
        return None if value is None else value.rstrip(b"\0").decode("latin-1")


def integer_tlv(name: str, value: int) -> TLV:
    """A known integer TLV, sized by the table."""
    tag = TAGS[name]
    return TLV(tag, value.to_bytes(INTEGER_TLV_SIZES[tag], "big"))


def cstring_tlv(name: str, value: str) -> TLV:
    return TLV(TAGS[name], value.encode("latin-1") + b"\0")


_BIND_LAYOUT = (
    ("system_id", Kind.CSTRING),
    ("password", Kind.CSTRING),
    ("system_type", Kind.CSTRING),
    ("interface_version", Kind.UINT8),
    ("addr_ton", Kind.UINT8),
    ("addr_npi", Kind.UINT8),
    ("address_range", Kind.CSTRING),
)
_SHORT_MESSAGE_LAYOUT = (
    ("service_type", Kind.CSTRING),
    ("source_addr_ton", Kind.UINT8),
    ("source_addr_npi", Kind.UINT8),
    ("source_addr", Kind.CSTRING),
    ("dest_addr_ton", Kind.UINT8),
    ("dest_addr_npi", Kind.UINT8),
    ("destination_addr", Kind.CSTRING),
    ("esm_class", Kind.UINT8),
    ("protocol_id", Kind.UINT8),
    ("priority_flag", Kind.UINT8),
    ("schedule_delivery_time", Kind.CSTRING),
    ("validity_period", Kind.CSTRING),
    ("registered_delivery", Kind.UINT8),
    ("replace_if_present_flag", Kind.UINT8),
    ("data_coding", Kind.UINT8),
    ("sm_default_msg_id", Kind.UINT8),
    ("short_message", Kind.SHORT_MESSAGE),
)
_DATA_SM_LAYOUT = (
    ("service_type", Kind.CSTRING),
    ("source_addr_ton", Kind.UINT8),
    ("source_addr_npi", Kind.UINT8),
    ("source_addr", Kind.CSTRING),
    ("dest_addr_ton", Kind.UINT8),
    ("dest_addr_npi", Kind.UINT8),
    ("destination_addr", Kind.CSTRING),
    ("esm_class", Kind.UINT8),
    ("registered_delivery", Kind.UINT8),
    ("data_coding", Kind.UINT8),
)
_SYSTEM_ID_LAYOUT = (("system_id", Kind.CSTRING),)
_MESSAGE_ID_LAYOUT = (("message_id", Kind.CSTRING),)


@dataclass(frozen=True, slots=True)
class _Bind(PDU):
    system_id: str = ""
    password: str = ""
    system_type: str = ""
    interface_version: int = 0x34
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = _BIND_LAYOUT


@dataclass(frozen=True, slots=True)
class BindTransmitter(_Bind):
    COMMAND_ID: ClassVar[int] = command_id("bind_transmitter")


@dataclass(frozen=True, slots=True)
class BindReceiver(_Bind):
    COMMAND_ID: ClassVar[int] = command_id("bind_receiver")


@dataclass(frozen=True, slots=True)
class BindTransceiver(_Bind):
    COMMAND_ID: ClassVar[int] = command_id("bind_transceiver")


@dataclass(frozen=True, slots=True)
class BindResp(PDU):
    system_id: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = _SYSTEM_ID_LAYOUT


@dataclass(frozen=True, slots=True)
class BindTransmitterResp(BindResp):
    COMMAND_ID: ClassVar[int] = command_id("bind_transmitter_resp")


@dataclass(frozen=True, slots=True)
class BindReceiverResp(BindResp):
    COMMAND_ID: ClassVar[int] = command_id("bind_receiver_resp")


@dataclass(frozen=True, slots=True)
class BindTransceiverResp(BindResp):
    COMMAND_ID: ClassVar[int] = command_id("bind_transceiver_resp")


@dataclass(frozen=True, slots=True)
class ShortMessagePDU(PDU):
    """submit_sm and deliver_sm share this layout."""

    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    short_message: bytes = b""

    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = _SHORT_MESSAGE_LAYOUT


def absolute_time(moment: float) -> str:
    """``moment`` (Unix time) as an SMPP 3.4 absolute time (section 7.1.1), in UTC:
    ``YYMMDDhhmmsst00+`` (t: tenths of a second; 00+: no offset from UTC). Never later
    than ``moment``: the tenths are cut, not rounded, so a validity period written from
    an alert's expiry never outlives it."""
    second = math.floor(moment)
    tenths = min(9, math.floor((moment - second) * 10))
    at = dt.datetime.fromtimestamp(second, dt.UTC)
    return at.strftime("%y%m%d%H%M%S") + f"{tenths}00+"


@dataclass(frozen=True, slots=True)
class SubmitSM(ShortMessagePDU):
    COMMAND_ID: ClassVar[int] = command_id("submit_sm")


@dataclass(frozen=True, slots=True)
class DeliverSM(ShortMessagePDU):
    COMMAND_ID: ClassVar[int] = command_id("deliver_sm")


@dataclass(frozen=True, slots=True)
class DataSM(PDU):
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    source_addr: str = ""
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    destination_addr: str = ""
    esm_class: int = 0
    registered_delivery: int = 0
    data_coding: int = 0

    COMMAND_ID: ClassVar[int] = command_id("data_sm")
    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = _DATA_SM_LAYOUT


@dataclass(frozen=True, slots=True)
class _MessageIdResp(PDU):
    message_id: str = ""

    LAYOUT: ClassVar[tuple[tuple[str, Kind], ...]] = _MESSAGE_ID_LAYOUT


@dataclass(frozen=True, slots=True)
class SubmitSMResp(_MessageIdResp):
    COMMAND_ID: ClassVar[int] = command_id("submit_sm_resp")


@dataclass(frozen=True, slots=True)
class DeliverSMResp(_MessageIdResp):
    COMMAND_ID: ClassVar[int] = command_id("deliver_sm_resp")


@dataclass(frozen=True, slots=True)
class DataSMResp(_MessageIdResp):
    COMMAND_ID: ClassVar[int] = command_id("data_sm_resp")


@dataclass(frozen=True, slots=True)
class EnquireLink(PDU):
    COMMAND_ID: ClassVar[int] = command_id("enquire_link")


@dataclass(frozen=True, slots=True)
class EnquireLinkResp(PDU):
    COMMAND_ID: ClassVar[int] = command_id("enquire_link_resp")


@dataclass(frozen=True, slots=True)
class Unbind(PDU):
    COMMAND_ID: ClassVar[int] = command_id("unbind")


@dataclass(frozen=True, slots=True)
class UnbindResp(PDU):
    COMMAND_ID: ClassVar[int] = command_id("unbind_resp")


@dataclass(frozen=True, slots=True)
class GenericNack(PDU):
    COMMAND_ID: ClassVar[int] = command_id("generic_nack")


PDU_CLASSES: tuple[type[PDU], ...] = (
    BindTransmitter,
    BindReceiver,
    BindTransceiver,
    BindTransmitterResp,
    BindReceiverResp,
    BindTransceiverResp,
    SubmitSM,
    SubmitSMResp,
    DeliverSM,
    DeliverSMResp,
    DataSM,
    DataSMResp,
    EnquireLink,
    EnquireLinkResp,
    Unbind,
    UnbindResp,
    GenericNack,
)
BY_COMMAND_ID: dict[int, type[PDU]] = {cls.COMMAND_ID: cls for cls in PDU_CLASSES}

# The response class each request is answered with.
RESPONSE_FOR: dict[type[PDU], type[PDU]] = {
    BindTransmitter: BindTransmitterResp,
    BindReceiver: BindReceiverResp,
    BindTransceiver: BindTransceiverResp,
    SubmitSM: SubmitSMResp,
    DeliverSM: DeliverSMResp,
    DataSM: DataSMResp,
    EnquireLink: EnquireLinkResp,
    Unbind: UnbindResp,
}
