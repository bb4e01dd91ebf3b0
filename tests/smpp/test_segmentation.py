"""Splitting any text into SMS parts and putting it back together."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.sms import encoding
from gateway.sms.encoding import Alphabet
from gateway.sms.segmentation import (
    PART_LIMIT,
    SINGLE_LIMIT,
    Concatenation,
    Reassembler,
    SplitMode,
    parse_udh,
    plan,
)

PIECES = [
    "a",
    "Z",
    " ",
    "\n",
    "€",
    "{",
    "}",
    "^",
    "[",
    "]",
    "~",
    "|",
    "\\",
    "\f",
    "é",
    "Ä",
    "@",
    "😀",
    "🇸🇩",
    "سلام",
    "ሰላም",
    "ትግርኛ",
    "\ud83d",
    "\ude00",
    "\ud800",
]
texts = st.lists(st.sampled_from(PIECES), max_size=600).map("".join) | st.text(max_size=400)


def unit_boundaries(text: str) -> set[int]:
    cuts, position = {0}, 0
    for unit in encoding.units(text):
        position += len(unit)
        cuts.add(position)
    return cuts


@settings(max_examples=200)
@given(texts, st.sampled_from(list(SplitMode)), st.integers(0, 255))
def test_any_text_splits_on_unit_boundaries_and_reassembles_exactly(
    text: str, mode: SplitMode, reference: int
) -> None:
    parts = plan(text, mode, reference)
    alphabet = encoding.alphabet_for(text)
    expected = encoding.encode(text, alphabet)
    assert {part.data_coding for part in parts} == {alphabet.data_coding}
    assert "".join(part.text for part in parts) == text
    boundaries = unit_boundaries(text)
    position = 0
    for part in parts:
        position += len(part.text)
        assert position in boundaries  # never inside an escape or a surrogate pair
    if len(parts) == 1 and parts[0].message_payload is None:
        assert encoding.length_in(text, alphabet) <= SINGLE_LIMIT[alphabet]
        assert parts[0].short_message == expected
        return
    if mode is SplitMode.PAYLOAD:
        assert parts[0].message_payload == expected and parts[0].short_message == b""
        return
    # Deliver the parts shuffled, one twice, and reassemble as the receiving side would.
    reassembler = Reassembler()
    delivered = [*parts, parts[0]]
    random.Random(reference).shuffle(delivered)
    result = None
    for part in delivered:
        assert encoding.length_in(part.text, alphabet) <= PART_LIMIT[alphabet]
        if mode is SplitMode.UDH:
            assert part.esm_class & 0x40
            joined, body = parse_udh(part.short_message)
        else:
            joined, body = part.concatenation, part.short_message
        assert joined is not None and joined.total == len(parts)
        assert joined.reference == reference
        done = reassembler.add("sender", joined, part.data_coding, body, now=0.0)
        if done is not None:
            result = done
    assert result == (expected, alphabet.data_coding)
    assert len(reassembler) <= 1  # at most the re-delivered first part waits


@pytest.mark.parametrize(
    ("text", "alphabet", "parts"),
    [
        ("a" * 160, Alphabet.GSM7, 1),
        ("a" * 161, Alphabet.GSM7, 2),
        ("a" * 306, Alphabet.GSM7, 2),
        ("a" * 307, Alphabet.GSM7, 3),
        ("€" * 80, Alphabet.GSM7, 1),
        ("€" * 81, Alphabet.GSM7, 2),
        ("ب" * 70, Alphabet.UCS2, 1),
        ("ب" * 71, Alphabet.UCS2, 2),
        ("ب" * 134, Alphabet.UCS2, 2),
        ("😀" * 35, Alphabet.UCS2, 1),
        ("😀" * 36, Alphabet.UCS2, 2),
    ],
)
def test_part_counts_at_the_limits(text: str, alphabet: Alphabet, parts: int) -> None:
    assert encoding.alphabet_for(text) is alphabet
    assert len(plan(text, SplitMode.UDH, 1)) == parts


def test_an_escape_pair_at_the_cut_moves_whole_to_the_next_part() -> None:
    text = "a" * 152 + "€" + "b" * 10
    first, second = plan(text, SplitMode.UDH, 9)
    assert first.short_message[6:] == b"a" * 152
    assert second.short_message[6:8] == b"\x1b\x65"


def test_udh_header_layout() -> None:
    parts = plan("x" * 400, SplitMode.UDH, 0x2A)
    assert [part.short_message[:6] for part in parts] == [
        bytes([5, 0, 3, 0x2A, 3, index]) for index in (1, 2, 3)
    ]


def test_sixteen_bit_reference_udh_is_read() -> None:
    joined, body = parse_udh(bytes([6, 8, 4, 0x12, 0x34, 2, 1]) + b"hi")
    assert joined == Concatenation(0x1234, 2, 1) and body == b"hi"


@pytest.mark.parametrize("raw", [b"", b"\x09\x00\x03", b"\x05\x00\x07\x01"])
def test_malformed_udh_keeps_the_whole_message(raw: bytes) -> None:
    assert parse_udh(raw) == (None, raw)


def test_incomplete_messages_expire() -> None:
    reassembler = Reassembler(max_age=10.0)
    reassembler.add("s", Concatenation(1, 2, 1), 0, b"a", now=0.0)
    assert len(reassembler) == 1
    reassembler.add("t", Concatenation(1, 2, 1), 0, b"a", now=11.0)
    assert len(reassembler) == 1  # the first expired, the second waits


def test_parts_from_two_senders_with_the_same_reference_stay_apart() -> None:
    reassembler = Reassembler()
    assert reassembler.add("s1", Concatenation(7, 2, 1), 0, b"A1", 0.0) is None
    assert reassembler.add("s2", Concatenation(7, 2, 2), 0, b"B2", 0.0) is None
    assert reassembler.add("s1", Concatenation(7, 2, 2), 0, b"A2", 0.0) == (b"A1A2", 0)


@settings(max_examples=300)
@given(texts)
def test_the_fast_whole_text_encoding_equals_the_reference_one(text: str) -> None:
    from gateway.sms.segmentation import encode_whole

    alphabet = encoding.alphabet_for(text)
    assert encode_whole(text) == (alphabet, encoding.encode(text, alphabet))
