"""The SMS dialect of the menu: every screen of the real tree fits its SMS, replies read."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.content.catalog import load_catalogs
from gateway.menu import engine
from gateway.menu.engine import SessionState
from gateway.menu.loader import load_tree_file
from gateway.menu.model import Tree
from gateway.sms.menu_dialect import (
    SMSMenuSettingError,
    capacity,
    menu_input,
    menu_limit,
    parts_needed,
    sms_text,
)
from gateway.sms.segmentation import SplitMode, plan
from tests.conftest import CONTENT, SAMPLE_TREE

TREE: Tree = load_tree_file(SAMPLE_TREE, load_catalogs(CONTENT))
INPUTS = st.sampled_from(["1", "2", "3", "4", "5", "0", "00", "98", "7", "x", "Italy", "KE"])


@settings(max_examples=150, deadline=None)
@given(
    parts=st.integers(min_value=1, max_value=3),
    language=st.sampled_from(TREE.languages),
    country=st.sampled_from(["", "KE", "IT", "LY", "SO"]),
    walk=st.lists(INPUTS, max_size=8),
)
def test_every_screen_of_a_walk_is_one_sms_of_at_most_the_parts_set(
    parts: int, language: str, country: str, walk: list[str]
) -> None:
    limit = menu_limit(parts)
    result = engine.start(TREE, language=language, country=country, limit=limit)
    for choice in ["", *walk]:
        if choice:
            result = engine.step(TREE, result.state, choice, limit)
        text = result.display.text
        # The engine's pages already fit: the dialect never has to cut them.
        if result.accepted:
            assert sms_text(text, parts) == text
        assert parts_needed(sms_text(text, parts)) <= parts
        assert len(plan(sms_text(text, parts), SplitMode.UDH, 1)) <= parts
        if result.display.end:
            break


@given(st.text(max_size=700), st.integers(min_value=1, max_value=3))
def test_any_text_is_cut_to_the_parts_and_the_cut_is_a_prefix(text: str, parts: int) -> None:
    shown = sms_text(text, parts)
    assert text.startswith(shown)
    assert parts_needed(shown) <= parts
    assert len(plan(shown, SplitMode.UDH, 7)) <= parts


@given(st.text(max_size=400))
def test_parts_needed_agrees_with_the_splitter(text: str) -> None:
    try:
        planned = len(plan(text, SplitMode.UDH, 3))
    except Exception:  # over the splitter's own maximum of parts
        return
    assert parts_needed(text) == planned


@pytest.mark.parametrize(
    ("reply", "meant"),
    [
        ("1", "1"),
        (" 2. ", "2"),
        ("٣", "3"),  # Arabic-Indic
        ("۹۹", "99"),  # Extended Arabic-Indic (Persian, Urdu)
        ("००", "00"),  # Devanagari
        ("１", "1"),  # full width
        ("98#", "98"),
        ("*0#", "0"),
        ("Italy", "Italy"),
        ("  South Sudan!", "South Sudan"),
    ],
)
def test_replies_become_the_option_keys_the_engine_knows(reply: str, meant: str) -> None:
    assert menu_input(reply) == meant


@given(st.integers(min_value=0, max_value=999))
def test_any_number_in_any_common_script_reads_as_ascii(number: int) -> None:
    for zero in ("0", "٠", "۰", "०", "০", "０"):
        written = "".join(chr(ord(zero) + int(digit)) for digit in str(number))
        assert menu_input(written) == str(number)


@given(st.text(max_size=60))
def test_menu_input_never_fails_and_keeps_no_edge_space(reply: str) -> None:
    read = menu_input(reply)
    assert read == read.strip()


def test_limits_follow_the_parts() -> None:
    assert menu_limit(1).gsm7 == 160 and menu_limit(1).for_alphabet(_ucs2()) == 70
    assert menu_limit(3).for_alphabet(_ucs2()) == capacity(_ucs2(), 3) == 201
    assert menu_limit(2).for_alphabet(_ucs2()) == capacity(_ucs2(), 2) == 134
    with pytest.raises(SMSMenuSettingError):
        menu_limit(4)


def test_an_arabic_walk_starts_in_one_ucs2_sms() -> None:
    result = engine.start(TREE, language="ar", limit=menu_limit(1))
    assert result.display.screen_id == TREE.home
    assert len(result.display.text) <= 70
    assert parts_needed(result.display.text) == 1
    state = result.state
    assert isinstance(state, SessionState) and state.language == "ar"


def _ucs2():  # type: ignore[no-untyped-def]
    from gateway.sms.encoding import Alphabet

    return Alphabet.UCS2
