from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from gateway.menu.pages import Limit, paginate
from gateway.sms.encoding import length_in, units

TEXT = st.text(
    alphabet=st.one_of(
        st.sampled_from(list("abc XYZ\n{}€^~|[]\\0123")),
        st.sampled_from(list("مرحبا ")),
        st.just("😀"),
        st.characters(),
    ),
    max_size=600,
)


@given(TEXT, st.integers(min_value=120, max_value=182))
def test_pages_fit_and_lose_no_character(body: str, septets: int) -> None:
    limit = Limit(septets)
    pages = paginate(body, "98 More, 0 Back, 00 Home", "0 Back, 00 Home", limit)
    assert "".join(pages.bodies) == body
    capacity = limit.for_alphabet(pages.alphabet)
    for text in pages.texts:
        assert length_in(text, pages.alphabet) <= capacity
    for part in pages.bodies:
        assert "".join(units(part)) == part  # no page starts or ends inside a unit


def test_a_short_body_is_one_page_with_the_last_footer() -> None:
    pages = paginate("Hello", "98 More", "0 Back", Limit())
    assert pages.texts == ("Hello\n0 Back",)


def test_a_long_body_gets_more_markers_on_all_but_the_last_page() -> None:
    pages = paginate("word " * 100, "98 More", "0 Back", Limit(160))
    assert len(pages.texts) > 1
    assert all(text.endswith("\n98 More") for text in pages.texts[:-1])
    assert pages.texts[-1].endswith("\n0 Back")


def test_ucs2_screen_capacity_is_the_same_octets() -> None:
    assert (
        Limit(182).for_alphabet(
            alphabet=__import__("gateway.sms.encoding").sms.encoding.Alphabet.UCS2
        )
        == 80
    )
