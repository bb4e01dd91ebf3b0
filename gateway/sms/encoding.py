"""GSM 03.38 7-bit and UCS-2: which alphabet a text needs and what it costs.

A pure module (no I/O). Every length that decides whether a USSD screen or an SMS
fits is measured here, so the menu validator, the pager, the SMS splitter and the
console's character budget all agree to the septet.

Units: a text is a sequence of *units* that must never be cut apart. In GSM-7 an
extension character (``^ { } \\ [ ] ~ | €`` and the form feed) is one unit that costs
two septets (escape + code). In UCS-2 a character outside the Basic Multilingual
Plane (an emoji) is one unit that costs two UTF-16 code units (a surrogate pair).
"""

from __future__ import annotations

from collections.abc import Iterator
from enum import Enum

from gateway.errors import GatewayError

# GSM 03.38 default alphabet, indexed by septet value. 0x1B is the escape to the
# extension table and is not a character of its own.
_GSM7_BASIC = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
assert len(_GSM7_BASIC) == 128

# The extension table: character -> code that follows the 0x1B escape.
_GSM7_EXTENSION = {
    "\f": 0x0A,
    "^": 0x14,
    "{": 0x28,
    "}": 0x29,
    "\\": 0x2F,
    "[": 0x3C,
    "~": 0x3D,
    "]": 0x3E,
    "|": 0x40,
    "€": 0x65,
}

ESCAPE = 0x1B

GSM7_BASIC_CODES: dict[str, int] = {
    char: code for code, char in enumerate(_GSM7_BASIC) if code != ESCAPE
}
GSM7_EXTENSION_CODES: dict[str, int] = dict(_GSM7_EXTENSION)
_BASIC_BY_CODE = {code: char for char, code in GSM7_BASIC_CODES.items()}
_EXTENSION_BY_CODE = {code: char for char, code in GSM7_EXTENSION_CODES.items()}


class Alphabet(Enum):
    """The two alphabets a handset is sure to read."""

    GSM7 = "gsm7"
    UCS2 = "ucs2"

    @property
    def data_coding(self) -> int:
        """The SMPP ``data_coding`` value: 0 = SMSC default (GSM-7), 8 = UCS-2."""
        return 0 if self is Alphabet.GSM7 else 8


class EncodingError(GatewayError, ValueError):
    """A text cannot be written in the requested alphabet, or bytes do not decode."""


def is_gsm7(text: str) -> bool:
    """True when every character of ``text`` is in the GSM-7 basic or extension table."""
    return all(char in GSM7_BASIC_CODES or char in GSM7_EXTENSION_CODES for char in text)


def alphabet_for(text: str) -> Alphabet:
    """The cheapest alphabet that carries ``text`` without loss."""
    return Alphabet.GSM7 if is_gsm7(text) else Alphabet.UCS2


def unit_cost(char: str, alphabet: Alphabet) -> int:
    """What one character costs: septets in GSM-7, UTF-16 code units in UCS-2."""
    if alphabet is Alphabet.GSM7:
        if char in GSM7_BASIC_CODES:
            return 1
        if char in GSM7_EXTENSION_CODES:
            return 2
        raise EncodingError(f"character {char!r} is not in the GSM-7 alphabet")
    return 2 if ord(char) > 0xFFFF else 1


def length_in(text: str, alphabet: Alphabet) -> int:
    """The length of ``text`` in ``alphabet``'s units (septets or UTF-16 code units)."""
    return sum(unit_cost(char, alphabet) for char in text)


def measure(text: str) -> tuple[Alphabet, int]:
    """The alphabet ``text`` needs and its length in that alphabet's units."""
    alphabet = alphabet_for(text)
    return alphabet, length_in(text, alphabet)


def units(text: str) -> Iterator[str]:
    """The indivisible pieces of ``text``.

    A Python ``str`` already holds an astral character (which UCS-2 carries as a
    surrogate pair) as one code point, and a GSM-7 extension character is one code
    point that becomes two septets, so a unit is one character. The exception is a
    surrogate pair that arrived *as two code points* (decoded with ``surrogatepass``):
    it is kept together here.
    """
    index = 0
    while index < len(text):
        char = text[index]
        if (
            0xD800 <= ord(char) <= 0xDBFF
            and index + 1 < len(text)
            and 0xDC00 <= ord(text[index + 1]) <= 0xDFFF
        ):
            yield text[index : index + 2]
            index += 2
        else:
            yield char
            index += 1


def split_to_fit(text: str, budget: int, alphabet: Alphabet) -> tuple[str, str]:
    """Cut ``text`` so the head costs at most ``budget`` units, never inside a unit.

    Prefers to cut after the last newline, then the last space, in the head (so lines
    and words stay whole) when that keeps at least half the budget; else cuts hard.
    Returns ``(head, rest)``; ``head`` is empty only if ``budget`` cannot hold the
    first unit.
    """
    used = 0
    cut = 0
    for unit in units(text):
        cost = sum(unit_cost(char, alphabet) for char in unit)
        if used + cost > budget:
            break
        used += cost
        cut += len(unit)
    if cut >= len(text):
        return text, ""
    head = text[:cut]
    for separator in ("\n", " "):
        soft = head.rfind(separator)
        if soft > 0 and length_in(head[: soft + 1], alphabet) * 2 >= budget:
            return text[: soft + 1], text[soft + 1 :]
    return head, text[cut:]


def encode_gsm7(text: str) -> bytes:
    """GSM-7 septets, one per octet (unpacked), as SMPP carries data_coding 0."""
    out = bytearray()
    for char in text:
        code = GSM7_BASIC_CODES.get(char)
        if code is not None:
            out.append(code)
            continue
        extension = GSM7_EXTENSION_CODES.get(char)
        if extension is None:
            raise EncodingError(f"character {char!r} is not in the GSM-7 alphabet")
        out += bytes((ESCAPE, extension))
    return bytes(out)


def decode_gsm7(data: bytes) -> str:
    """Unpacked GSM-7 septets to text. Unknown codes decode to a space, as handsets do."""
    chars: list[str] = []
    escaped = False
    for byte in data:
        septet = byte & 0x7F
        if escaped:
            chars.append(_EXTENSION_BY_CODE.get(septet, _BASIC_BY_CODE.get(septet, " ")))
            escaped = False
        elif septet == ESCAPE:
            escaped = True
        else:
            chars.append(_BASIC_BY_CODE.get(septet, " "))
    if escaped:
        chars.append(" ")
    return "".join(chars)


def encode_ucs2(text: str) -> bytes:
    """UTF-16 big-endian. Lone surrogates pass through so any ``str`` round-trips."""
    return text.encode("utf-16-be", errors="surrogatepass")


def decode_ucs2(data: bytes) -> str:
    """UTF-16 big-endian to text; an odd trailing byte is dropped, not fatal."""
    if len(data) % 2:
        data = data[:-1]
    return data.decode("utf-16-be", errors="surrogatepass")


def encode(text: str, alphabet: Alphabet) -> bytes:
    return encode_gsm7(text) if alphabet is Alphabet.GSM7 else encode_ucs2(text)


def decode(data: bytes, data_coding: int) -> str:
    """Decode an SMPP short message by its ``data_coding``.

    0 (SMSC default) and 1 (IA5/ASCII) read as GSM-7 / ASCII, 8 as UCS-2, 3 as
    Latin-1; anything else is read as Latin-1 so no byte is lost.
    """
    if data_coding == 8:
        return decode_ucs2(data)
    if data_coding == 0:
        return decode_gsm7(data)
    if data_coding == 1:
        return data.decode("ascii", errors="replace")
    return data.decode("latin-1")
