"""A roamer is offered the SMS menu (pure engine and validator).

The sample tree with an SMS number (``+447700900123``: Ofcom's range for drama,
07700 900000-900999, never a subscriber's) offered to a caller whose number is
Ugandan on a Kenyan network: once a session, before home, in their language; any key
goes on; nothing for a caller at home, for a channel that cannot tell the network,
or for a service without an SMS number (or without an SMS channel)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from gateway.menu import engine
from gateway.menu.engine import ROAMER_SCREEN, SessionState
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.sms_availability import without_sms_copies
from gateway.menu.validator import validate
from gateway.sms.encoding import alphabet_for, length_in
from gateway.sms.menu_dialect import menu_limit

NUMBER = "+447700900123"


@pytest.fixture
def service(sample_tree: Tree) -> Tree:
    return replace(sample_tree, sms_number=NUMBER, page_cache={})


@pytest.mark.parametrize(
    ("language", "offer"),
    [
        ("en", "Abroad? This code may not work. Text MENU to +447700900123\n1 Continue"),
        ("ar", "في الخارج؟ قد لا يعمل الرمز. أرسل قائمة إلى +447700900123\n1 متابعة"),
    ],
)
def test_a_roamer_is_offered_the_sms_number_once_before_home(
    service: Tree, language: str, offer: str
) -> None:
    first = engine.start(service, language=language, country="KE", home="UG")
    assert first.display.text == offer and first.display.screen_id == ROAMER_SCREEN
    home = engine.step(service, first.state, "1")
    assert home.display.screen_id == "main" and home.state.offered
    hotlines = engine.step(service, home.state, "1")
    back = engine.step(service, hotlines.state, "0")
    assert back.display == home.display  # home again, no second offer
    again = engine.step(service, back.state, "00")
    assert again.display.screen_id == "main"


def test_a_new_roamer_chooses_a_language_then_reads_the_offer_in_it(service: Tree) -> None:
    language_screen = engine.start(service, country="KE", home="UG")
    assert language_screen.display.screen_id == "language"
    offer = engine.step(service, language_screen.state, "3")  # العربية
    assert offer.display.screen_id == ROAMER_SCREEN and "أرسل قائمة إلى" in offer.display.text


def test_any_key_goes_on_and_99_still_ends_at_once(service: Tree) -> None:
    first = engine.start(service, language="en", country="KE", home="UG")
    assert engine.step(service, first.state, "7").display.screen_id == "main"
    bye = engine.step(service, first.state, "99")
    assert bye.display.end and bye.quick_exit


def test_a_saved_offer_survives_the_session_store(service: Tree) -> None:
    first = engine.start(service, language="en", country="KE", home="UG")
    stored = SessionState.from_dict(first.state.to_dict())
    assert stored == first.state
    later = SessionState.from_dict(engine.step(service, stored, "1").state.to_dict())
    assert later.offered


@pytest.mark.parametrize(
    ("country", "home"),
    [("KE", "KE"), ("KE", ""), ("", "UG")],  # at home; number unknown; network unknown
)
def test_no_offer_unless_the_number_is_from_another_country_than_the_network(
    service: Tree, country: str, home: str
) -> None:
    first = engine.start(service, language="en", country=country, home=home)
    assert first.display.screen_id == "main" and "MENU" not in first.display.text


def test_no_offer_without_an_sms_number_or_an_sms_channel(sample_tree: Tree, service: Tree) -> None:
    for tree in (sample_tree, without_sms_copies(service)):
        first = engine.start(tree, language="en", country="KE", home="UG")
        assert first.display.screen_id == "main"


def test_the_offer_fits_one_ussd_screen_and_one_sms_in_every_language(service: Tree) -> None:
    assert validate(service, Limit()) == []
    for language in service.languages:
        offer = service.roamer_line(language)
        assert NUMBER in offer
        for limit in (Limit(), menu_limit(1)):
            alphabet = alphabet_for(offer)
            assert length_in(offer, alphabet) <= limit.for_alphabet(alphabet)


def _messages(tree: Tree) -> list[str]:
    return [problem.message for problem in validate(tree, Limit())]


def test_the_validator_refuses_an_offer_that_would_be_a_false_promise(service: Tree) -> None:
    assert any(
        "must be an international number" in m
        for m in _messages(replace(service, sms_number="21212", page_cache={}))
    )
    elsewhere = replace(service, service_codes=("*384*2#", "+254700000000"), page_cache={})
    assert any("would reach another service" in m for m in _messages(elsewhere))
    untranslated = dict(service.navigation)
    untranslated["roamer_sms"] = {"en": "Abroad? Text MENU to {number}\n1 Continue"}
    assert any(
        "'roamer_sms' has no 'ar' text" in m
        for m in _messages(replace(service, navigation=untranslated, page_cache={}))
    )
    no_number = dict(service.navigation)
    no_number["roamer_sms"] = {lang: "Abroad? Text MENU\n1 Continue" for lang in service.languages}
    assert any(
        "lacks {number}" in m
        for m in _messages(replace(service, navigation=no_number, page_cache={}))
    )
    too_long = dict(service.navigation)
    too_long["roamer_sms"] = {
        **service.navigation["roamer_sms"],
        "ar": "في الخارج؟ " * 6 + "{number}\n1 متابعة",
    }
    found = _messages(replace(service, navigation=too_long, page_cache={}))
    assert any("[ar] the roamer's offer" in m and "over one screen" in m for m in found)
