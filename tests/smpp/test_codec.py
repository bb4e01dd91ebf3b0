"""The codec: every PDU round-trips, and no byte sequence escapes as anything but
SMPPProtocolError."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import struct

import pytest
import smpplib.smpp
from hypothesis import given, settings
from hypothesis import strategies as st
from smpplib import consts

from gateway.smpp import codec
from gateway.smpp.errors import LocalProtocolError, SMPPProtocolError
from gateway.smpp.pdu import (
    INTEGER_TLV_SIZES,
    PDU,
    PDU_CLASSES,
    TAGS,
    TLV,
    DeliverSM,
    EnquireLink,
    Kind,
    SubmitSM,
    absolute_time,
    integer_tlv,
)

cstrings = st.text(st.characters(min_codepoint=1, max_codepoint=255), max_size=30)
octet = st.integers(0, 255)
known_int_tlvs = st.sampled_from(sorted(INTEGER_TLV_SIZES)).flatmap(
    lambda tag: st.integers(0, 2 ** (8 * INTEGER_TLV_SIZES[tag]) - 1).map(
        lambda value: TLV(tag, value.to_bytes(INTEGER_TLV_SIZES[tag], "big"))
    )
)
unknown_tlvs = st.builds(
    TLV,
    st.integers(0x1400, 0x3FFF).filter(lambda tag: tag not in set(TAGS.values())),
    st.binary(max_size=40),
)
tlvs = st.lists(st.one_of(known_int_tlvs, unknown_tlvs), max_size=5).map(tuple)


def pdu_strategy(cls: type[PDU]) -> st.SearchStrategy[PDU]:
    fields: dict[str, st.SearchStrategy[object]] = {}
    for name, kind in cls.LAYOUT:
        if kind is Kind.CSTRING:
            fields[name] = cstrings
        elif kind is Kind.UINT8:
            fields[name] = octet
        else:
            fields[name] = st.binary(max_size=254)
    return st.builds(
        cls,
        sequence=st.integers(1, 0x7FFFFFFF),
        status=st.just(0) if not cls.COMMAND_ID & 0x80000000 else st.integers(0, 0xFF),
        tlvs=tlvs,
        **fields,
    )


any_pdu = st.sampled_from(PDU_CLASSES).flatmap(pdu_strategy)


@settings(max_examples=200)
@given(any_pdu)
def test_every_pdu_round_trips(pdu: PDU) -> None:
    data = codec.encode(pdu)
    assert len(data) == int.from_bytes(data[:4], "big")
    assert codec.decode(data) == pdu


@pytest.mark.parametrize("cls", PDU_CLASSES, ids=lambda cls: cls.__name__)
def test_each_pdu_class_round_trips_with_defaults(cls: type[PDU]) -> None:
    pdu = cls(sequence=7)
    assert codec.decode(codec.encode(pdu)) == pdu


@settings(max_examples=200)
@given(st.binary(max_size=300))
def test_random_bytes_raise_only_the_protocol_error(data: bytes) -> None:
    try:
        codec.decode(data)
    except SMPPProtocolError as exc:
        assert exc.command_status != 0


@settings(max_examples=200)
@given(any_pdu, st.data())
def test_corrupted_pdus_raise_only_the_protocol_error(pdu: PDU, data: st.DataObject) -> None:
    raw = bytearray(codec.encode(pdu))
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(raw) - 1))
        raw[index] = data.draw(octet)
    cut = data.draw(st.integers(0, len(raw)))
    for candidate in (bytes(raw), bytes(raw[:cut])):
        with contextlib.suppress(SMPPProtocolError):
            codec.decode(candidate)


@settings(max_examples=50)
@given(st.lists(any_pdu, min_size=1, max_size=4))
def test_pdus_fed_one_byte_at_a_time_parse(pdus: list[PDU]) -> None:
    reader = codec.FrameReader()
    stream = b"".join(codec.encode(pdu) for pdu in pdus)
    decoded = []
    for index in range(len(stream)):
        reader.feed(stream[index : index + 1])
        frame = reader.next_frame()
        if frame is not None:
            decoded.append(codec.decode(frame))
    assert decoded == pdus
    assert reader.buffered == 0


@pytest.mark.parametrize("length", [0, 1, 15, 4097, 0x7FFFFFFF, 0xFFFFFFFF])
def test_bad_command_length_is_rejected_from_the_four_length_octets(length: int) -> None:
    reader = codec.FrameReader(max_length=4096)
    reader.feed(length.to_bytes(4, "big"))
    with pytest.raises(SMPPProtocolError) as caught:
        reader.next_frame()
    assert caught.value.command_status == consts.SMPP_ESME_RINVCMDLEN
    assert caught.value.fatal
    # Nothing was kept, so nothing grows however many octets the peer claims.
    assert reader.buffered == 0


def test_a_frame_at_the_cap_is_accepted_and_one_over_is_not() -> None:
    body = SubmitSM(sequence=1, tlvs=(TLV(0x1500, b"x" * 100),))
    data = codec.encode(body)
    assert codec.decode(data, max_length=len(data)) == body
    with pytest.raises(SMPPProtocolError):
        codec.decode(data, max_length=len(data) - 1)


def test_unknown_command_id_names_the_sequence_and_asks_for_generic_nack() -> None:
    data = struct.pack(">IIII", 16, 0x00000999, 0, 4242)
    with pytest.raises(SMPPProtocolError) as caught:
        codec.decode(data)
    assert caught.value.command_status == consts.SMPP_ESME_RINVCMDID
    assert caught.value.sequence == 4242
    assert not caught.value.fatal


def test_unknown_tlvs_are_kept_raw_and_known_ones_read() -> None:
    pdu = DeliverSM(
        sequence=3,
        short_message=b"*123#",
        tlvs=(
            TLV(0x7777, b"\x01\x02\x03"),
            integer_tlv("ussd_service_op", 1),
            integer_tlv("its_session_info", 0x2A04),
        ),
    )
    decoded = codec.decode(codec.encode(pdu))
    assert decoded.tlv(0x7777) == b"\x01\x02\x03"
    assert decoded.tlv_int(TAGS["ussd_service_op"]) == 1
    assert decoded.tlv_int(TAGS["its_session_info"]) == 0x2A04


def test_smpplib_cannot_read_ussd_deliver_sm_but_we_can() -> None:
    """Why the codec is ours: smpplib's deliver_sm parser fails on ussd_service_op."""
    data = codec.encode(
        DeliverSM(sequence=9, short_message=b"1", tlvs=(integer_tlv("ussd_service_op", 18),))
    )
    with pytest.raises(Exception):  # noqa: B017 - whatever smpplib raises
        smpplib.smpp.parse_pdu(data, client=None)
    assert codec.decode(data).tlv_int(TAGS["ussd_service_op"]) == 18


def test_known_integer_tlv_of_the_wrong_size_is_rinvparlen() -> None:
    pdu = DeliverSM(sequence=5, tlvs=(TLV(TAGS["ussd_service_op"], b"\x00\x01"),))
    with pytest.raises(SMPPProtocolError) as caught:
        codec.decode(codec.encode(pdu))
    assert caught.value.command_status == consts.SMPP_ESME_RINVPARLEN
    assert caught.value.sequence == 5


def test_error_responses_without_a_body_decode() -> None:
    # node-smpp sends error responses as a bare header.
    data = struct.pack(">IIII", 16, 0x80000004, 0x58, 12)
    pdu = codec.decode(data)
    assert pdu.status == 0x58 and pdu.sequence == 12


def test_values_that_cannot_go_on_the_wire_are_local_errors() -> None:
    with pytest.raises(LocalProtocolError):
        codec.encode(SubmitSM(sequence=1, short_message=b"x" * 255))
    with pytest.raises(LocalProtocolError):
        codec.encode(SubmitSM(sequence=1, destination_addr="€"))
    with pytest.raises(LocalProtocolError):
        codec.encode(dataclasses.replace(EnquireLink(), sequence=-1))


def test_absolute_time_is_smpp_utc_with_tenths() -> None:
    # 2026-12-03 13:00:00.56 UTC (SMPP 3.4, 7.1.1: YYMMDDhhmmss, tenths, 00 quarter
    # hours from UTC, "+")
    assert absolute_time(1796302800.56) == "261203130000500+"


@given(st.floats(946_684_800, 3_000_000_000))  # the two-digit year's 2000-2065
def test_an_absolute_time_reads_back_to_the_tenth_never_later(moment: float) -> None:
    written = absolute_time(moment)
    assert len(written) == 16 and written.endswith("00+")
    at = dt.datetime.strptime(written[:12], "%y%m%d%H%M%S").replace(tzinfo=dt.UTC)
    read = at.timestamp() + int(written[12]) / 10
    assert moment - 0.1 < read <= moment + 1e-6  # 1e-6: the float sum's own rounding
