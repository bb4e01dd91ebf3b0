from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.menu.effects import SMSCopyRequested, SubscribeRequested, UnsubscribeRequested
from gateway.menu.engine import RESUME_SCREEN, SessionState, start, step
from gateway.menu.model import Tree
from gateway.menu.pages import Limit, pages_of
from gateway.sms.encoding import length_in

INPUTS = st.lists(
    st.one_of(
        st.sampled_from(["0", "00", "98", "99", "1", "2", "3", "4", "5", "6", "9", "Italy", ""]),
        st.text(max_size=20),
    ),
    max_size=25,
)


def walk(tree: Tree, inputs: list[str], language: str | None = "en"):  # type: ignore[no-untyped-def]
    result = start(tree, language=language, country="KE")
    yield result
    for entry in inputs:
        if result.display.end:
            result = start(tree, language=result.state.language, country="KE")
        result = step(tree, result.state, entry)
        yield result


@settings(max_examples=300, deadline=None)
@given(INPUTS, st.sampled_from([None, "en", "fr"]))
def test_the_engine_never_raises_and_every_screen_fits(
    inputs: list[str], language: str | None
) -> None:
    from gateway.content.catalog import load_catalogs
    from gateway.menu.loader import load_tree_file
    from tests.conftest import CONTENT, SAMPLE_TREE

    tree = _TREE.get("t") or _TREE.setdefault(
        "t", load_tree_file(SAMPLE_TREE, load_catalogs(CONTENT))
    )
    for result in walk(tree, inputs, language):
        text = result.display.text
        alphabet = __import__("gateway.sms.encoding").sms.encoding.alphabet_for(text)
        assert length_in(text, alphabet) <= Limit().for_alphabet(alphabet)
        assert text.strip()


_TREE: dict[str, Tree] = {}


def test_every_screen_of_the_sample_tree_fits_in_every_language(sample_tree: Tree) -> None:
    for limit in (Limit(182), Limit(160)):
        for language in sample_tree.languages:
            for screen in sample_tree.screens.values():
                for country in ("", "KE", "IT", "EG", "ZA"):
                    pages = pages_of(sample_tree, screen, language, country, limit)
                    for text in pages.texts:
                        assert length_in(text, pages.alphabet) <= limit.for_alphabet(pages.alphabet)


def test_a_new_caller_chooses_a_language_first(sample_tree: Tree) -> None:
    first = start(sample_tree)
    assert first.display.screen_id == sample_tree.start
    chosen = step(sample_tree, first.state, "2")
    assert chosen.state.language == "fr"
    assert chosen.display.screen_id == "main"
    assert "Numéros d'aide" in chosen.display.text


def test_back_returns_to_the_previous_screen(sample_tree: Tree) -> None:
    home = start(sample_tree, language="en")
    routes = step(sample_tree, home.state, "2")
    sea = step(sample_tree, routes.state, "1")
    assert sea.display.screen_id == "route_sea"
    back = step(sample_tree, sea.state, "0")
    assert back.display.screen_id == "routes"
    assert back.display.text == routes.display.text


@settings(max_examples=200, deadline=None)
@given(INPUTS)
def test_double_zero_always_reaches_home(inputs: list[str]) -> None:
    tree = _sample()
    for result in walk(tree, inputs):
        if result.display.end:
            continue
        home = step(tree, result.state, "00")
        if result.state.screen == RESUME_SCREEN:
            continue
        assert home.display.screen_id == tree.home


@settings(max_examples=200, deadline=None)
@given(INPUTS)
def test_back_after_entering_a_screen_returns_to_where_you_were(inputs: list[str]) -> None:
    tree = _sample()
    for result in walk(tree, inputs):
        state = result.state
        if result.display.end or state.screen == RESUME_SCREEN or state.page:
            continue
        if not result.accepted:  # a hint screen: its text differs from the plain one
            continue
        screen = tree.screens[state.screen]
        for option in screen.options:
            entered = step(tree, state, option.key)
            if entered.display.end or entered.state.screen == state.screen:
                continue
            back = step(tree, entered.state, "0")
            assert back.state.screen == state.screen
            assert back.display.text == result.display.text


def test_more_walks_the_pages_and_back_returns_a_page(sample_tree: Tree) -> None:
    home = start(sample_tree, language="en", country="KE")
    hotlines = step(sample_tree, home.state, "1")
    assert "98 More" in hotlines.display.text
    second = step(sample_tree, hotlines.state, "98")
    assert second.state.page == 1
    assert second.display.text != hotlines.display.text
    assert step(sample_tree, second.state, "0").display.text == hotlines.display.text


def test_the_callers_country_comes_first(sample_tree: Tree) -> None:
    kenya = step(sample_tree, start(sample_tree, language="en", country="KE").state, "1")
    assert kenya.display.text.splitlines()[1].startswith("Kenya emergency")
    egypt = step(sample_tree, start(sample_tree, language="en", country="EG").state, "1")
    assert egypt.display.text.splitlines()[1].startswith("Egypt police")


def test_a_country_typed_by_name_or_code_shows_its_hotlines(sample_tree: Tree) -> None:
    state = step(sample_tree, start(sample_tree, language="en", country="KE").state, "1").state
    asking = step(sample_tree, state, "1")
    assert asking.display.screen_id == "hotlines_country"
    italy = step(sample_tree, asking.state, "italy")
    assert "112" in italy.display.text and "Kenya" not in italy.display.text
    assert italy.state.variable("country") == "IT"
    wrong = step(sample_tree, asking.state, "Atlantis")
    assert wrong.accepted is False and "Country not found" in wrong.display.text
    assert wrong.display.end is False


def test_invalid_input_reshows_the_screen_with_a_hint(sample_tree: Tree) -> None:
    home = start(sample_tree, language="en")
    wrong = step(sample_tree, home.state, "7")
    assert wrong.accepted is False
    assert wrong.display.end is False
    assert wrong.display.text.startswith("Invalid choice.")
    assert "1 Hotlines" in wrong.display.text
    assert wrong.state == replace(home.state, hinted=True)


def test_quick_exit_ends_at_once_on_a_neutral_screen(sample_tree: Tree) -> None:
    deep = step(
        sample_tree, step(sample_tree, start(sample_tree, language="en").state, "3").state, "1"
    )
    gone = step(sample_tree, deep.state, "99")
    assert gone.display.end and gone.quick_exit
    assert gone.display.text == "Thank you. Goodbye."
    assert gone.state.history == ()


def test_actions_return_effects(sample_tree: Tree) -> None:
    home = start(sample_tree, language="fr", country="KE")
    menu = step(sample_tree, home.state, "4")
    subscribed = step(sample_tree, menu.state, "1")
    assert subscribed.effects == (SubscribeRequested("route-alerts", "fr", "KE"),)
    assert subscribed.display.end
    stop = step(sample_tree, menu.state, "3")
    assert stop.effects == (UnsubscribeRequested(None, "fr"),)
    hotlines = step(sample_tree, home.state, "1")
    copy = step(sample_tree, hotlines.state, "2")
    (effect,) = copy.effects
    assert isinstance(effect, SMSCopyRequested)
    assert "Kenya" in effect.text and "Autre pays" not in effect.text  # no menu lines


def test_navigation_shows_no_effect_twice_for_the_same_state(sample_tree: Tree) -> None:
    menu = step(sample_tree, start(sample_tree, language="en").state, "4")
    assert step(sample_tree, menu.state, "1") == step(sample_tree, menu.state, "1")


def test_resume_offers_to_continue_or_start_again(sample_tree: Tree) -> None:
    dropped = step(
        sample_tree, step(sample_tree, start(sample_tree, language="en").state, "3").state, "2"
    )
    offer = start(sample_tree, language="en", resume=dropped.state)
    assert offer.display.screen_id == RESUME_SCREEN
    assert step(sample_tree, offer.state, "1").display.text == dropped.display.text
    assert step(sample_tree, offer.state, "2").display.screen_id == "main"


def test_state_round_trips_through_its_dict(sample_tree: Tree) -> None:
    state = step(
        sample_tree, step(sample_tree, start(sample_tree, language="en").state, "1").state, "1"
    ).state
    state = step(sample_tree, state, "Italy").state
    offer = start(sample_tree, language="en", resume=state).state
    assert SessionState.from_dict(offer.to_dict()) == offer


def test_a_stale_state_from_an_older_tree_recovers_at_home(sample_tree: Tree) -> None:
    stale = SessionState(screen="gone", language="xx", history=("also-gone",))
    result = step(sample_tree, stale, "1")
    assert result.display.screen_id == "hotlines"


def _sample() -> Tree:
    from gateway.content.catalog import load_catalogs
    from gateway.menu.loader import load_tree_file
    from tests.conftest import CONTENT, SAMPLE_TREE

    if "t" not in _TREE:
        _TREE["t"] = load_tree_file(SAMPLE_TREE, load_catalogs(CONTENT))
    return _TREE["t"]
