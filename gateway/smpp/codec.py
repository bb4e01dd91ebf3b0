"""Bytes to PDUs and back. Pure: no I/O, no clock.

``decode`` raises only :class:`SMPPProtocolError`, whatever the bytes: every failure
of the reading below is mapped to the command_status the peer should hear.
``FrameReader`` cuts a byte stream into frames and rejects a command_length under 16
or over its cap as soon as the four length octets are in, before any body is kept.
"""

from __future__ import annotations

import struct
from typing import Any

from smpplib import consts

from gateway.smpp.errors import LocalProtocolError, SMPPProtocolError
from gateway.smpp.pdu import (
    BY_COMMAND_ID,
    CSTRING_TLVS,
    INTEGER_TLV_SIZES,
    NETWORK_ERROR_CODE_SIZE,
    PDU,
    TAGS,
    TLV,
    Kind,
)

HEADER = struct.Struct(">IIII")
HEADER_SIZE = HEADER.size
DEFAULT_MAX_LENGTH = 4096
MAX_SHORT_MESSAGE = 254
_TLV_HEADER = struct.Struct(">HH")
_NETWORK_ERROR_CODE = TAGS["network_error_code"]


def encode(pdu: PDU, sequence: int | None = None) -> bytes:
    """The wire bytes of ``pdu`` (with ``sequence`` in the header instead of
    ``pdu.sequence`` when given). A value that cannot go on the wire is our bug."""
    parts: list[bytes] = []
    try:
        for name, kind in pdu.LAYOUT:
            value = getattr(pdu, name)
            if kind is Kind.CSTRING:
                raw = value.encode("latin-1")
                if b"\0" in raw:
                    raise LocalProtocolError(f"{name} holds a NUL octet")
                parts.append(raw + b"\0")
            elif kind is Kind.UINT8:
                parts.append(bytes((value,)))
            else:
                if len(value) > MAX_SHORT_MESSAGE:
                    raise LocalProtocolError(
                        f"short_message of {len(value)} octets; use message_payload"
                    )
                parts.append(bytes((len(value),)))
                parts.append(value)
        for item in pdu.tlvs:
            parts.append(_TLV_HEADER.pack(item.tag, len(item.value)))
            parts.append(item.value)
        body = b"".join(parts)
        if sequence is None:
            sequence = pdu.sequence
        return HEADER.pack(HEADER_SIZE + len(body), pdu.COMMAND_ID, pdu.status, sequence) + body
    except (UnicodeEncodeError, ValueError, struct.error) as exc:
        raise LocalProtocolError(f"cannot encode {type(pdu).__name__}: {exc}") from exc


def read_header(data: bytes) -> tuple[int, int, int, int]:
    """command_length, command_id, command_status, sequence_number of a frame."""
    if len(data) < HEADER_SIZE:
        raise SMPPProtocolError(
            f"{len(data)} octets is shorter than a header",
            consts.SMPP_ESME_RINVCMDLEN,
            fatal=True,
        )
    length, command, status, sequence = HEADER.unpack_from(data)
    return length, command, status, sequence


def decode(data: bytes, max_length: int = DEFAULT_MAX_LENGTH) -> PDU:
    """One whole frame to a PDU; raises only :class:`SMPPProtocolError`."""
    length, command, status, sequence = read_header(data)
    if length != len(data) or length < HEADER_SIZE or length > max_length:
        raise SMPPProtocolError(
            f"command_length {length} for a frame of {len(data)} octets",
            consts.SMPP_ESME_RINVCMDLEN,
            sequence=sequence,
            command_id=command,
            fatal=True,
        )
    cls = BY_COMMAND_ID.get(command)
    if cls is None:
        raise SMPPProtocolError(
            f"unknown command_id 0x{command:08x}",
            consts.SMPP_ESME_RINVCMDID,
            sequence=sequence,
            command_id=command,
        )
    try:
        return _decode_body(cls, data, status, sequence)
    except SMPPProtocolError as exc:
        exc.sequence, exc.command_id = sequence, command
        raise


def _fail(message: str, status: int) -> SMPPProtocolError:
    return SMPPProtocolError(message, status)


def _decode_body(cls: type[PDU], data: bytes, status: int, sequence: int) -> PDU:
    fields: dict[str, Any] = {}
    offset = HEADER_SIZE
    end = len(data)
    for name, kind in cls.LAYOUT:
        if offset >= end and (cls.COMMAND_ID & 0x80000000 or status):
            # Error responses (and some SMSCs' successful ones) carry no body at all.
            break
        if kind is Kind.CSTRING:
            nul = data.find(b"\0", offset, end)
            if nul < 0:
                raise _fail(f"{name} is not NUL-terminated", consts.SMPP_ESME_RINVCMDLEN)
            fields[name] = data[offset:nul].decode("latin-1")
            offset = nul + 1
        elif kind is Kind.UINT8:
            if offset >= end:
                raise _fail(f"body ends before {name}", consts.SMPP_ESME_RINVCMDLEN)
            fields[name] = data[offset]
            offset += 1
        else:
            if offset >= end:
                raise _fail("body ends before sm_length", consts.SMPP_ESME_RINVCMDLEN)
            sm_length = data[offset]
            stop = offset + 1 + sm_length
            if stop > end:
                raise _fail(f"sm_length {sm_length} runs past the PDU", consts.SMPP_ESME_RINVMSGLEN)
            fields[name] = data[offset + 1 : stop]
            offset = stop
    tlvs: list[TLV] = []
    while offset < end:
        if end - offset < _TLV_HEADER.size:
            raise _fail("truncated optional parameter", consts.SMPP_ESME_RINVOPTPARSTREAM)
        tag, size = _TLV_HEADER.unpack_from(data, offset)
        offset += _TLV_HEADER.size
        if offset + size > end:
            raise _fail(f"TLV 0x{tag:04x} runs past the PDU", consts.SMPP_ESME_RINVOPTPARSTREAM)
        value = data[offset : offset + size]
        offset += size
        _check_known_tlv(tag, value)
        tlvs.append(TLV(tag, value))
    return cls(sequence=sequence, status=status, tlvs=tuple(tlvs), **fields)


def _check_known_tlv(tag: int, value: bytes) -> None:
    expected = INTEGER_TLV_SIZES.get(tag)
    if tag == _NETWORK_ERROR_CODE:
        expected = NETWORK_ERROR_CODE_SIZE
    if expected is not None and len(value) != expected:
        raise _fail(
            f"TLV 0x{tag:04x} has {len(value)} octets, expected {expected}",
            consts.SMPP_ESME_RINVPARLEN,
        )
    if tag in CSTRING_TLVS and (not value or value[-1] != 0):
        raise _fail(f"TLV 0x{tag:04x} is not NUL-terminated", consts.SMPP_ESME_RINVPARLEN)


class FrameReader:
    """Cuts a byte stream into whole frames; bounded by ``max_length`` per frame."""

    def __init__(self, max_length: int = DEFAULT_MAX_LENGTH) -> None:
        if max_length < HEADER_SIZE:
            raise ValueError("max_length must hold at least a header")
        self.max_length = max_length
        self._buffer = bytearray()
        self._start = 0

    def feed(self, data: bytes) -> None:
        self._buffer += data

    @property
    def buffered(self) -> int:
        return len(self._buffer) - self._start

    def next_frame(self) -> bytes | None:
        """The next whole frame, or None until more bytes come. Bad lengths are fatal."""
        available = len(self._buffer) - self._start
        if available < 4:
            self._compact()
            return None
        length = int.from_bytes(self._buffer[self._start : self._start + 4], "big")
        if length < HEADER_SIZE or length > self.max_length:
            command = sequence = 0
            if available >= HEADER_SIZE:  # name the offender in the generic_nack
                _, command, _, sequence = HEADER.unpack_from(self._buffer, self._start)
            self._buffer.clear()
            self._start = 0
            raise SMPPProtocolError(
                f"command_length {length} outside {HEADER_SIZE}..{self.max_length}",
                consts.SMPP_ESME_RINVCMDLEN,
                sequence=sequence,
                command_id=command,
                fatal=True,
            )
        if available < length:
            self._compact()
            return None
        frame = bytes(self._buffer[self._start : self._start + length])
        self._start += length
        return frame

    def _compact(self) -> None:
        if self._start:
            del self._buffer[: self._start]
            self._start = 0
