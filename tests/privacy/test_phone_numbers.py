"""Numbers to E.164, whatever script and form they arrive in."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.privacy.phone_numbers import (
    ascii_digits,
    country_of,
    parsed_country,
    smpp_e164,
    to_e164,
)

DIGITS = {
    "ascii": "0123456789",
    "arabic-indic": "٠١٢٣٤٥٦٧٨٩",
    "persian": "۰۱۲۳۴۵۶۷۸۹",
    "devanagari": "०१२३४५६७८९",
    "full-width": "０１２３４５６７８９",
}


@given(st.sampled_from(sorted(DIGITS)), st.lists(st.integers(0, 9), min_size=9, max_size=9))
def test_any_script_s_digits_give_the_same_e164(script: str, digits: list[int]) -> None:
    national = "".join(str(d) for d in digits)
    written = "+2547" + "".join(DIGITS[script][int(d)] for d in national[1:])
    assert to_e164(written) == to_e164("+2547" + national[1:])


def test_the_forms_one_kenyan_number_takes_are_one_number() -> None:
    e164 = "+254711000111"
    assert to_e164("+254711000111") == e164
    assert to_e164("+254 711-000 111") == e164
    assert to_e164("+٢٥٤٧١١٠٠٠١١١") == e164
    assert to_e164("0711000111", "KE") == e164
    assert to_e164("254711000111", "KE") == e164
    assert to_e164("254711000111") == e164  # no country: digits read as international
    assert to_e164("00254711000111") == e164
    assert smpp_e164("254711000111", 1, "") == e164
    assert smpp_e164("0711000111", 2, "KE") == e164
    assert smpp_e164("0711000111", 0, "KE") == e164
    assert country_of(e164) == "KE"


@given(st.text(max_size=40))
def test_anything_else_is_refused_or_normalised_never_an_error(raw: str) -> None:
    number = to_e164(raw)
    assert number is None or (number.startswith("+") and number[1:].isdigit())
    if number is not None:
        assert to_e164(number) == number  # E.164 is a fixed point


def test_what_is_not_a_number_is_refused() -> None:
    for raw in ("", "+12", "hello", "0711000111", "+999123456789", "1" * 41):
        assert to_e164(raw) is None, raw


def test_digits_of_other_scripts_fold_to_ascii() -> None:
    assert ascii_digits("+٢٥٤ ۷۱۱") == "+254 711"
    assert ascii_digits("abc") == "abc"


def _example_numbers() -> list[tuple[str, str]]:
    """(national form, region) of phonenumbers' example number for every region."""
    import phonenumbers

    found = []
    for region in sorted(phonenumbers.SUPPORTED_REGIONS):
        example = phonenumbers.example_number(region)
        if example is not None:
            national = phonenumbers.format_number(example, phonenumbers.PhoneNumberFormat.NATIONAL)
            found.append((national, region))
    return found


@given(st.sampled_from(_example_numbers()), st.booleans())
def test_the_country_remembered_from_reading_a_number_is_the_one_a_parse_gives(
    example: tuple[str, str], international: bool
) -> None:
    """A caller's country comes from the parse that read their number; it must be the
    country a fresh parse of the E.164 form gives, for every region's numbers."""
    national, region = example
    e164 = to_e164(national, region)
    if e164 is None:
        return
    if international:
        e164 = to_e164(e164) or e164
    assert country_of(e164) == parsed_country(e164)


def test_a_number_never_read_still_has_its_country() -> None:
    assert country_of("+33612345678") == "FR"
    assert country_of("+80012345678") == ""  # non-geographic
    assert country_of("not a number") == ""
