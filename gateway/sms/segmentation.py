"""Long SMS: choose the alphabet, cut into parts, and put inbound parts back together.

Pure (no I/O, no clock: the reassembler takes ``now`` as an argument). The cut is
made by :func:`gateway.sms.encoding.split_to_fit`, so a GSM-7 escape pair or a UTF-16
surrogate pair never straddles two parts.

Three ways to send a text that does not fit one SMS (a per-SMSC setting):

- ``udh``: each part's short_message starts with ``05 00 03 ref total seq`` and
  esm_class has UDHI (0x40); 153 septets or 67 UCS-2 characters per part.
- ``sar``: the same cut, the reference in the sar_* TLVs instead of a UDH.
- ``payload``: the whole text in one ``message_payload`` TLV; the SMSC splits.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from dataclasses import dataclass, field
from enum import Enum

from gateway.errors import GatewayError
from gateway.sms import encoding
from gateway.sms.encoding import ESCAPE, GSM7_BASIC_CODES, GSM7_EXTENSION_CODES, Alphabet

SINGLE_LIMIT = {Alphabet.GSM7: 160, Alphabet.UCS2: 70}
PART_LIMIT = {Alphabet.GSM7: 153, Alphabet.UCS2: 67}
UDHI = 0x40
MAX_PARTS = 255


class SplitMode(Enum):
    UDH = "udh"
    SAR = "sar"
    PAYLOAD = "payload"


class SegmentationError(GatewayError, ValueError):
    """The text needs more than 255 parts."""


@dataclass(frozen=True)
class Concatenation:
    """Which long message a part belongs to (from a UDH or the sar_* TLVs)."""

    reference: int
    total: int
    sequence: int


@dataclass(frozen=True)
class SMSPart:
    """One submit_sm's worth: the octets, and how to flag them."""

    short_message: bytes  # the UDH (if any) followed by the encoded text
    data_coding: int
    esm_class: int = 0
    concatenation: Concatenation | None = None  # set for sar parts (sent as TLVs)
    message_payload: bytes | None = None  # set in payload mode (short_message empty)
    text: str = ""


# The common case (one part) in C-speed string operations, equal by construction to
# gateway.sms.encoding's character-by-character functions (the tests compare them): a
# broadcast to thousands of people goes through here once per message.
_NOT_GSM7 = re.compile(
    "[^" + "".join(re.escape(char) for char in (*GSM7_BASIC_CODES, *GSM7_EXTENSION_CODES)) + "]"
)
_GSM7_TRANSLATION = {ord(char): chr(code) for char, code in GSM7_BASIC_CODES.items()} | {
    ord(char): chr(ESCAPE) + chr(code) for char, code in GSM7_EXTENSION_CODES.items()
}


def encode_whole(text: str) -> tuple[Alphabet, bytes]:
    """The alphabet ``text`` needs and its octets in it (unpacked GSM-7, or UTF-16BE)."""
    if _NOT_GSM7.search(text) is None:
        return Alphabet.GSM7, text.translate(_GSM7_TRANSLATION).encode("latin-1")
    return Alphabet.UCS2, text.encode("utf-16-be", errors="surrogatepass")


def split_text(text: str, limit: int, alphabet: Alphabet) -> list[str]:
    """Cut ``text`` into pieces of at most ``limit`` units each, never inside a unit.

    Each piece is filled: the handset joins concatenated parts before showing them, so
    where the cut falls is invisible, and a cut at a word boundary would only cost
    parts (money, and room under the part cap)."""
    pieces: list[str] = []
    current: list[str] = []
    used = 0
    for unit in encoding.units(text):
        cost = sum(encoding.unit_cost(char, alphabet) for char in unit)
        if cost > limit:  # a single unit larger than the limit cannot happen for SMS limits
            raise SegmentationError("a character does not fit a part")
        if used + cost > limit:
            pieces.append("".join(current))
            current, used = [], 0
        current.append(unit)
        used += cost
    if current:
        pieces.append("".join(current))
    return pieces or [""]


def plan(text: str, mode: SplitMode, reference: int) -> list[SMSPart]:
    """The parts that carry ``text``; ``reference`` (0..255) ties UDH/SAR parts together."""
    alphabet, whole = encode_whole(text)
    coding = alphabet.data_coding
    units = len(whole) if alphabet is Alphabet.GSM7 else len(whole) // 2
    if units <= SINGLE_LIMIT[alphabet]:
        return [SMSPart(whole, coding, text=text)]
    if mode is SplitMode.PAYLOAD:
        return [SMSPart(b"", coding, message_payload=whole, text=text)]
    pieces = split_text(text, PART_LIMIT[alphabet], alphabet)
    total = len(pieces)
    if total > MAX_PARTS:
        raise SegmentationError(f"{total} parts is more than {MAX_PARTS}")
    reference &= 0xFF
    parts = []
    for index, piece in enumerate(pieces, start=1):
        body = encoding.encode(piece, alphabet)
        if mode is SplitMode.UDH:
            udh = bytes((5, 0, 3, reference, total, index))
            parts.append(SMSPart(udh + body, coding, esm_class=UDHI, text=piece))
        else:
            joined = Concatenation(reference, total, index)
            parts.append(SMSPart(body, coding, concatenation=joined, text=piece))
    return parts


def parse_udh(short_message: bytes) -> tuple[Concatenation | None, bytes]:
    """Split a UDHI short_message into its concatenation header (8- or 16-bit reference)
    and its text octets. A malformed header yields (None, the whole message)."""
    if not short_message:
        return None, short_message
    header_length = short_message[0]
    if 1 + header_length > len(short_message):
        return None, short_message
    header = short_message[1 : 1 + header_length]
    body = short_message[1 + header_length :]
    found = None
    index = 0
    while index + 2 <= len(header):
        element, size = header[index], header[index + 1]
        value = header[index + 2 : index + 2 + size]
        if len(value) != size:
            return None, short_message
        if element == 0x00 and size == 3:
            found = Concatenation(value[0], value[1], value[2])
        elif element == 0x08 and size == 4:
            found = Concatenation(int.from_bytes(value[:2], "big"), value[2], value[3])
        index += 2 + size
    return found, body


@dataclass
class _Pending:
    total: int
    data_coding: int
    started: float
    parts: dict[int, bytes] = field(default_factory=dict)


class Reassembler:
    """Holds inbound parts until their message is whole.

    Keyed by (sender key, reference, total): the sender key is a hash, never the
    number. A repeated part (re-delivery) replaces nothing. Incomplete messages older
    than ``max_age`` seconds, or beyond ``max_pending``, are dropped oldest first.
    """

    def __init__(self, max_age: float = 600.0, max_pending: int = 10_000) -> None:
        self.max_age = max_age
        self.max_pending = max_pending
        self._pending: OrderedDict[tuple[str, int, int], _Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def add(
        self, sender_key: str, part: Concatenation, data_coding: int, body: bytes, now: float
    ) -> tuple[bytes, int] | None:
        """Keep one part; returns (all octets in order, data_coding) once complete."""
        self._expire(now)
        if not 1 <= part.sequence <= part.total:
            return None
        key = (sender_key, part.reference, part.total)
        pending = self._pending.get(key)
        if pending is None:
            pending = _Pending(part.total, data_coding, now)
            self._pending[key] = pending
            while len(self._pending) > self.max_pending:
                self._pending.popitem(last=False)
        pending.parts.setdefault(part.sequence, body)
        if len(pending.parts) < pending.total:
            return None
        del self._pending[key]
        joined = b"".join(pending.parts[index] for index in range(1, pending.total + 1))
        return joined, pending.data_coding

    def _expire(self, now: float) -> None:
        while self._pending:
            key, oldest = next(iter(self._pending.items()))
            if now - oldest.started < self.max_age:
                return
            del self._pending[key]
