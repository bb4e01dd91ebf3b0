from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.sms.encoding import (
    Alphabet,
    alphabet_for,
    decode_gsm7,
    decode_ucs2,
    encode_gsm7,
    encode_ucs2,
    length_in,
    split_to_fit,
    units,
)

GSM_TEXT = st.text(alphabet="@£$abcXYZ 019{}[]~^|\\€\n.,!?ÄÖÑÜäöñüà", max_size=300)
ANY_TEXT = st.text(max_size=300)  # includes emoji, Arabic and lone surrogates


def test_extension_characters_cost_two_septets() -> None:
    assert length_in("abc", Alphabet.GSM7) == 3
    assert length_in("{€}", Alphabet.GSM7) == 6


def test_non_gsm_text_needs_ucs2_and_emoji_cost_two_units() -> None:
    assert alphabet_for("Hello") is Alphabet.GSM7
    assert alphabet_for("مرحبا") is Alphabet.UCS2
    assert length_in("a😀", Alphabet.UCS2) == 3


@given(GSM_TEXT)
def test_gsm7_round_trips(text: str) -> None:
    assert decode_gsm7(encode_gsm7(text)) == text
    assert len(encode_gsm7(text)) == length_in(text, Alphabet.GSM7)


@given(ANY_TEXT)
def test_ucs2_round_trips_any_text(text: str) -> None:
    assert decode_ucs2(encode_ucs2(text)) == text


@given(ANY_TEXT)
def test_units_cover_the_text_exactly(text: str) -> None:
    assert "".join(units(text)) == text


@given(st.one_of(GSM_TEXT, ANY_TEXT), st.integers(min_value=2, max_value=200))
def test_split_never_cuts_a_unit_and_loses_nothing(text: str, budget: int) -> None:
    alphabet = alphabet_for(text)
    head, rest = split_to_fit(text, budget, alphabet)
    assert head + rest == text
    assert length_in(head, alphabet) <= budget
    assert head or not text
    # The cut falls on a unit boundary: the head is a whole number of units.
    assert "".join(units(head)) == head
    if head and rest:
        assert not ("\ud800" <= head[-1] <= "\udbff" and "\udc00" <= rest[0] <= "\udfff")
