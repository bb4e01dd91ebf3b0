"""After any input, every option of the screen shown is on the page (RELIABILITY 26).

Checked on the sample tree in every language, with an invalid entry on every screen,
and on generated trees with long texts, many options and Arabic (UCS-2) words.
"""

from __future__ import annotations

from dataclasses import replace

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from gateway.menu.engine import RESUME_SCREEN, StepResult, start, step
from gateway.menu.model import DEFAULT_NAVIGATION, Option, Screen, ScreenKind, Tree
from gateway.menu.pages import Limit, footers, option_lines, pages_of
from gateway.menu.validator import validate
from gateway.sms.encoding import alphabet_for, length_in

LIMITS = (Limit(182), Limit(160), Limit(140))


def assert_whole_page(tree: Tree, result: StepResult, limit: Limit) -> None:
    """The page shown fits and carries every option line and the screen's footer."""
    text = result.display.text
    alphabet = alphabet_for(text)
    assert length_in(text, alphabet) <= limit.for_alphabet(alphabet), text
    screen = tree.screens.get(result.display.screen_id)
    if screen is None or result.display.screen_id == RESUME_SCREEN:
        return
    if screen.kind is ScreenKind.INPUT and not result.accepted and screen.error:
        return  # the input's own error screen, which names its way out
    lines = text.split("\n")
    for line in option_lines(tree, screen, result.state.language):
        assert line in lines, (line, text)
    more, last = footers(tree, screen, result.state.language)
    assert (
        lines[-1] in {more, last} - {""}
        or (not more and not last)
        or lines[-1]
        in (
            more,
            last,
        )
        or (last == "" and lines[-1] != more)
    ), text
    if not result.accepted:
        assert lines[0] == tree.nav("invalid", result.state.language)


def test_every_screen_in_every_language_keeps_its_options_after_an_invalid_entry(
    sample_tree: Tree,
) -> None:
    checked = 0
    for limit in (Limit(182),):
        for language in sample_tree.languages:
            for screen in sample_tree.screens.values():
                if screen.end:
                    continue
                # Walk to the screen's every page, then type something it does not take.
                for country in ("", "KE", "IT", "EG"):
                    pages = pages_of(sample_tree, screen, language, country, limit)
                    for page in range(len(pages.texts)):
                        shown = start(sample_tree, language=language, country=country, limit=limit)
                        state = shown.state.__class__(
                            screen=screen.id, language=language, country=country, page=page
                        )
                        wrong = step(sample_tree, state, "7*7", limit)
                        assert wrong.accepted is False
                        assert wrong.display.screen_id == screen.id
                        assert_whole_page(sample_tree, wrong, limit)
                        again = step(sample_tree, wrong.state, "x", limit)
                        assert_whole_page(sample_tree, again, limit)
                        checked += 1
    assert checked >= len(sample_tree.screens) * len(sample_tree.languages)


def test_the_arabic_home_screen_keeps_all_five_options_after_a_wrong_key(
    sample_tree: Tree,
) -> None:
    home = start(sample_tree, language="ar")
    wrong = step(sample_tree, home.state, "8")
    for key in "12345":
        assert f"\n{key} " in wrong.display.text
    alerts = step(sample_tree, step(sample_tree, home.state, "4").state, "8")
    assert "3 " in alerts.display.text and alerts.display.text.startswith("خطأ.\n")


def test_a_hint_on_a_later_page_skips_no_text(sample_tree: Tree) -> None:
    """Paging on after a hint shows every character of the body, none twice skipped."""
    for language in sample_tree.languages:
        state = start(sample_tree, language=language, country="IT").state
        hotlines = step(sample_tree, state, "1")
        seen = [hotlines.display.text]
        result = step(sample_tree, step(sample_tree, hotlines.state, "98").state, "x")
        seen.append(result.display.text)
        for _ in range(10):
            result = step(sample_tree, result.state, "98")
            seen.append(result.display.text)
            if not result.accepted:
                break
        body = "\n".join(seen)
        for entry in sample_tree.catalogs["hotlines"].own("IT"):
            for word in sample_tree.text(entry.text, language).split():
                assert word in body


WORDS = st.sampled_from(
    ["Help", "line", "crossing", "مساعدة", "البحر", "€uro", "{x}", "Soomaali", "call", "112"]
)
LABEL = st.lists(WORDS, min_size=1, max_size=3).map(" ".join)
BODY = st.lists(WORDS, min_size=1, max_size=60).map(" ".join)


@st.composite
def trees(draw: st.DrawFn) -> Tree:
    count = draw(st.integers(min_value=2, max_value=5))
    ids = [f"s{i}" for i in range(count)]
    screens = {}
    for index, screen_id in enumerate(ids):
        options = tuple(
            Option(str(key), {"en": draw(LABEL)}, draw(st.sampled_from(ids)))
            for key in range(1, draw(st.integers(min_value=0, max_value=4)) + 1)
        )
        if index == 0 and not options:
            options = (Option("1", {"en": draw(LABEL)}, ids[1]),)
        kind = ScreenKind.MENU if options else ScreenKind.TEXT
        screens[screen_id] = Screen(screen_id, kind, {"en": draw(BODY)}, options)
    navigation = {
        **DEFAULT_NAVIGATION,
        "invalid": {"en": draw(st.sampled_from(["Invalid choice.", "اختيار غير صحيح."]))},
    }
    # Every screen reachable from s0, so that the validator judges only lengths.
    first = screens["s0"]
    links = tuple(Option(str(10 + i), {"en": "x"}, screen_id) for i, screen_id in enumerate(ids))
    screens["s0"] = Screen("s0", ScreenKind.MENU, first.text, first.options + links)
    return Tree("generated", ("en",), "en", "s0", "s0", screens, navigation, {"en": "English"})


INPUT = st.one_of(st.sampled_from(["0", "00", "98", "1", "2", "3", "4", "7", "x", ""]), st.text())


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(trees(), st.lists(INPUT, max_size=20), st.sampled_from(LIMITS))
def test_after_any_input_every_option_of_a_valid_generated_tree_is_on_the_page(
    tree: Tree, inputs: list[str], limit: Limit
) -> None:
    problems = validate(tree, limit)
    assume(not problems)  # the validator refuses it: it never goes live
    result = start(tree, language="en", limit=limit)
    assert_whole_page(tree, result, limit)
    for entry in inputs:
        result = step(tree, result.state, entry, limit)
        assert_whole_page(tree, result, limit)


@settings(max_examples=300, deadline=None)
@given(st.lists(INPUT, max_size=25), st.sampled_from(["en", "fr", "ar", "so"]))
def test_after_any_input_every_option_of_the_sample_tree_is_on_the_page(
    inputs: list[str], language: str
) -> None:
    from gateway.content.catalog import load_catalogs
    from gateway.content.country_aliases import load_country_aliases
    from gateway.menu.loader import load_tree_file
    from tests.conftest import CONTENT, SAMPLE_TREE

    tree = _TREE.get("t") or _TREE.setdefault(
        "t",
        load_tree_file(SAMPLE_TREE, load_catalogs(CONTENT), load_country_aliases(CONTENT)),
    )
    result = start(tree, language=language, country="IT", home="KE")
    for entry in inputs:
        if result.display.end:
            result = start(tree, language=language, country="IT", home="KE")
        result = step(tree, result.state, entry)
        assert_whole_page(tree, result, Limit())


_TREE: dict[str, Tree] = {}


def test_the_validator_refuses_a_screen_whose_options_cannot_fit_with_the_hint() -> None:
    label = {"en": "x" * 40}  # four such options fit, but not with the hint on top
    options = tuple(Option(str(key), label, "s0") for key in range(1, 5))
    screen = Screen("s0", ScreenKind.MENU, {"en": "T"}, options)
    problems = validate(_tree(screen), Limit(182))
    assert [p.message for p in problems] == [
        "[en] the options and navigation (195 units, with the hint) leave 0 for the text "
        "in a 182-unit screen (it needs 10)"
    ]
    fewer = replace(screen, options=options[:3])
    assert validate(_tree(fewer), Limit(182)) == []


def _tree(screen: Screen) -> Tree:
    return Tree(
        "t", ("en",), "en", "s0", "s0", {"s0": screen}, DEFAULT_NAVIGATION, {"en": "English"}
    )
