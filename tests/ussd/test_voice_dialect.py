"""AT Voice XML from a screen: pure, tested on any text with hypothesis."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.africastalking.voice_dialect import (
    KeyMeaning,
    VoiceFormError,
    VoiceOptions,
    VoiceScreen,
    key_meaning,
    parse_voice_form,
    render,
    spoken,
    spoken_seconds,
)

OPTIONS = VoiceOptions()
# Any text XML 1.0 can carry (the engine never shows control characters).
XML_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="\ufffe\uffff"),
    max_size=300,
)


@given(XML_TEXT, st.booleans(), st.booleans())
def test_any_screen_becomes_well_formed_xml_that_says_it(text: str, end: bool, free: bool) -> None:
    xml = render(VoiceScreen(text, end, free_input=free), OPTIONS)
    root = ET.fromstring(xml)
    assert root.tag == "Response"
    say = root.find(".//Say")
    assert say is not None and (say.text or "") == spoken(text)
    get_digits = root.find("GetDigits")
    assert (get_digits is None) == end
    if get_digits is not None:
        assert get_digits.get("numDigits") == (None if free else "2")
        assert get_digits.get("finishOnKey") == "#"


def test_markup_in_a_screen_is_escaped_not_obeyed() -> None:
    xml = render(VoiceScreen('Call </Say><Dial phoneNumbers="+1"/> & "go"', False), OPTIONS)
    root = ET.fromstring(xml)
    assert root.find(".//Dial") is None
    assert "</Say><Dial" in (root.find(".//Say").text or "")  # type: ignore[union-attr]


def test_a_recording_is_played_instead_of_said() -> None:
    xml = render(VoiceScreen("x", False, "https://gw.example/voice/recordings/t/main/ar"), OPTIONS)
    root = ET.fromstring(xml)
    assert root.find(".//Say") is None
    assert root.find("GetDigits/Play").get("url").endswith("/main/ar")  # type: ignore[union-attr]


@given(st.integers(min_value=10, max_value=10**12))
def test_numbers_are_read_digit_by_digit(number: int) -> None:
    read = spoken(f"Call {number} now")
    assert read == f"Call {' '.join(str(number))} now."
    assert str(number) not in read


def test_lines_become_sentences_and_single_keys_stay() -> None:
    assert spoken("Hotlines\n1 Other country\n2 Send by SMS") == (
        "Hotlines. 1 Other country. 2 Send by SMS."
    )


@pytest.mark.parametrize(
    ("digits", "meaning", "engine_input"),
    [
        ("", KeyMeaning.START, ""),
        ("*", KeyMeaning.REPEAT, ""),
        ("*#", KeyMeaning.REPEAT, ""),
        ("99", KeyMeaning.INPUT, "99"),
        ("0", KeyMeaning.INPUT, "0"),
        ("00", KeyMeaning.INPUT, "00"),
        ("3", KeyMeaning.INPUT, "3"),
        ("10", KeyMeaning.INPUT, "10"),
        ("254#", KeyMeaning.INPUT, "254"),
    ],
)
def test_keys_mean_what_the_caller_was_told(
    digits: str, meaning: KeyMeaning, engine_input: str
) -> None:
    key = key_meaning(digits, OPTIONS)
    assert key.meaning is meaning and key.input == engine_input


def test_no_keys_on_a_call_under_way_repeat_the_screen_and_never_restart() -> None:
    assert key_meaning("", OPTIONS, started=True).meaning is KeyMeaning.REPEAT
    assert key_meaning("#", OPTIONS, started=True).meaning is KeyMeaning.REPEAT


def test_a_configured_exit_key_ends_at_once_as_99_does() -> None:
    options = VoiceOptions(repeat_key="9", exit_key="*")
    assert key_meaning("*", options) == key_meaning("99", options)
    assert key_meaning("*", options).input == "99"


def test_a_form_without_a_session_is_refused_and_the_number_stays_out_of_repr() -> None:
    with pytest.raises(VoiceFormError):
        parse_voice_form({"isActive": "1"})
    call = parse_voice_form({"sessionId": "s", "callerNumber": "+254700777009", "isActive": "0"})
    assert not call.active and "254700777009" not in repr(call)


def test_spoken_length_grows_with_the_words() -> None:
    assert spoken_seconds("one two three four five") == 2.0
    assert spoken_seconds("Call 116000") > spoken_seconds("Call now")


def test_the_validator_warns_about_screens_too_long_to_hear(sample_tree: object) -> None:
    from gateway.menu.validator import voice_warnings

    assert voice_warnings(sample_tree, 60) == []  # type: ignore[arg-type]
    long = voice_warnings(sample_tree, 8)  # type: ignore[arg-type]
    assert long and {w.screen for w in long} >= {"hotlines"}
    assert "read aloud in 'en'" in str(long[0]) and str(long[0]).startswith(
        str(sample_tree.source)  # type: ignore[attr-defined]
    )


def test_the_spoken_estimate_counts_the_keys_said_after_a_screen(sample_tree: object) -> None:
    from gateway.menu.model import Tree
    from gateway.menu.pages import body_of
    from gateway.menu.validator import voice_warnings

    assert isinstance(sample_tree, Tree)
    main = sample_tree.screens["main"]
    alone = max(
        spoken_seconds(body_of(sample_tree, main, lang, "")) for lang in sample_tree.languages
    )
    assert alone < 12  # the home screen alone is short ...
    warned = {w.screen for w in voice_warnings(sample_tree, 12)}
    assert "main" in warned  # ... but a caller also hears the keys before choosing
