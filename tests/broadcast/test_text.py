from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.broadcast.text import compose, sensitive_opening, text_for


def test_compose_opens_with_the_neutral_prefix_once() -> None:
    assert compose("Info:", "Road closed") == "Info: Road closed"
    assert compose("Info:", "Info: Road closed") == "Info: Road closed"
    assert compose("", " Road closed ") == "Road closed"


@settings(max_examples=100)
@given(st.text(max_size=80))
def test_composed_text_always_starts_with_the_prefix(text: str) -> None:
    assert compose("Info:", text).startswith("Info:")


def test_text_falls_back_to_the_fallback_language() -> None:
    texts = {"en": "hello", "fr": "bonjour"}
    assert text_for(texts, "fr", "en") == "bonjour"
    assert text_for(texts, "so", "en") == "hello"


def test_sensitive_opening_flags_first_words_in_several_languages() -> None:
    assert sensitive_opening("Trafficking gang active near the port") == ["Trafficking"]
    assert sensitive_opening("Info: POLICE checks on the road", prefix="Info:") == ["POLICE"]
    assert sensitive_opening("Passeurs signalés à la gare") == ["Passeurs"]
    assert sensitive_opening("الشرطة في المحطة") == ["الشرطة"]
    assert sensitive_opening("Road closed near the bridge, take the east road") == []


def test_sensitive_word_late_in_the_text_is_not_an_opening() -> None:
    text = "The road from the north crossing is closed until Monday; beware of smugglers"
    assert sensitive_opening(text) == []
