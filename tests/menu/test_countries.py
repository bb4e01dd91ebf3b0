"""Countries typed the way callers say them, in the tree's languages and their own."""

from __future__ import annotations

import pytest

from gateway.content.catalog import ContentError
from gateway.content.country_aliases import parse_country_aliases
from gateway.menu.countries import country_code, country_name
from gateway.menu.engine import start, step
from gateway.menu.model import Tree

TYPED = {
    "Italia": "IT",
    "Italie": "IT",
    "ايطاليا": "IT",
    "إيطاليا": "IT",
    "Talyaani": "IT",  # Somali (CLDR)
    "Turkey": "TR",
    "UK": "GB",
    "Ivory Coast": "CI",
    "côte d'ivoire": "CI",
    "DRC": "CD",
    "Soomaaliya": "SO",
    "الصومال": "SO",
    "Allemagne": "DE",
    "Deutschland": "DE",
    "it": "IT",
    "ITA": "IT",
    "+39": "IT",
    "39": "IT",
    "0039": "IT",
    "380": "UA",  # Ukraine's dialling code, not ISO numeric 380 (Italy)
    "+254": "KE",
    "٢٥٤": "KE",  # Arabic-Indic digits
}


def test_countries_in_the_callers_words(sample_tree: Tree) -> None:
    for typed, code in TYPED.items():
        found = country_code(typed, sample_tree.languages, sample_tree.country_aliases)
        assert found == code, (typed, found)


def test_what_is_no_country_is_refused(sample_tree: Tree) -> None:
    for typed in ("", "Atlantis", "9999", "x" * 61, "+", "1234"):
        assert country_code(typed, sample_tree.languages, sample_tree.country_aliases) is None


def test_the_hotlines_screen_names_the_country_typed_in_the_callers_language(
    sample_tree: Tree,
) -> None:
    for language, typed, shown in (
        ("fr", "Italia", "Numéros d'aide: Italie"),
        ("ar", "ايطاليا", "أرقام المساعدة: إيطاليا"),
        ("so", "Soomaaliya", "Khadadka caawinta: Soomaaliya"),
        ("en", "+39", "Hotlines: Italy"),
    ):
        home = start(sample_tree, language=language, country="KE")
        asked = step(sample_tree, step(sample_tree, home.state, "1").state, "1")
        assert asked.display.screen_id == "hotlines_country"
        answered = step(sample_tree, asked.state, typed)
        assert answered.display.screen_id == "hotlines"
        assert answered.display.text.startswith(shown), answered.display.text
    assert country_name("KE", "so") == "Kenya"


def test_a_roamer_sees_where_they_are_first_then_their_home_country(sample_tree: Tree) -> None:
    home = start(sample_tree, language="en", country="IT", home="KE")
    hotlines = step(sample_tree, home.state, "1")
    pages = [hotlines.display.text]
    result = hotlines
    while "98 More" in result.display.text:
        result = step(sample_tree, result.state, "98")
        pages.append(result.display.text)
    shown = "\n".join(pages)
    assert shown.startswith("Hotlines: Italy\nEmergency (police, ambulance, fire): 112")
    assert shown.index("Emergency (police") < shown.index("Kenya:") < shown.index("Kenya emergency")
    # Someone at home is shown no second country.
    local = step(sample_tree, start(sample_tree, language="en", country="KE", home="KE").state, "1")
    assert "Kenya:" not in local.display.text


def test_the_aliases_file_is_checked_and_says_where() -> None:
    assert parse_country_aliases("GB: [UK, Britain]\n", "a.yaml") == (
        ("UK", "GB"),
        ("Britain", "GB"),
    )
    with pytest.raises(ContentError, match=r"a\.yaml:2: 'XX' is not an ISO 3166 alpha-2 code"):
        parse_country_aliases("GB: [UK]\nXX: [Nowhere]\n", "a.yaml")
    with pytest.raises(ContentError, match="must list the words"):
        parse_country_aliases("GB: UK\n", "a.yaml")
