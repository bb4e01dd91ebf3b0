"""Pure parts of review: which entries a menu serves or an alert quotes, which of them
need verifying (with their age), and which editor field a validator message is about."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from gateway.console.freshness import entries_quoted, entries_served, freshness
from gateway.console.menu_check import check, field_of
from gateway.content.catalog import Catalog, Entry, load_catalogs
from gateway.menu.pages import Limit
from gateway.settings import PROJECT_ROOT

TODAY = dt.date(2026, 12, 2)


def entry(entry_id: str, number: str, verified: dt.date, by: str = "amina (operator)") -> Entry:
    return Entry(
        entry_id, {"en": entry_id}, {"en": entry_id}, "src", verified, ("KE",), number, (), 0, by
    )


CATALOGS = {
    "hotlines": Catalog(
        "hotlines",
        (
            entry("ke-999", "999", TODAY, by="sample: not yet verified by an operator"),
            entry("ke-116", "116", TODAY - dt.timedelta(days=200)),
            entry("eu-116000", "116000", TODAY),
            entry("ke-1195", "1195", TODAY),
        ),
    )
}


def test_an_alert_contains_the_entries_whose_number_it_quotes() -> None:
    assert entries_quoted(["Call 999 or 112 now"], CATALOGS) == {("hotlines", "ke-999")}
    # Written with a space, a dot or a hyphen between digits: still the number.
    assert entries_quoted(["Missing child: 116 000"], CATALOGS) == {("hotlines", "eu-116000")}
    assert entries_quoted(["Call 11-95"], CATALOGS) == {("hotlines", "ke-1195")}
    # Part of a longer number is not the number.
    assert entries_quoted(["Call 0999 123"], CATALOGS) == set()
    assert entries_quoted(["Route closed near km 1160"], CATALOGS) == set()
    assert entries_quoted(["No number here"], CATALOGS) == set()


@given(st.text(alphabet="abc ,:+()\n", max_size=30), st.text(alphabet="abc ,:()\n", max_size=30))
def test_a_quoted_number_is_found_whatever_words_surround_it(before: str, after: str) -> None:
    assert ("hotlines", "ke-116") in entries_quoted([f"{before} 116 {after}"], CATALOGS)


def test_freshness_names_each_entry_with_its_age_and_keeps_to_what_was_asked() -> None:
    everything = freshness(CATALOGS, TODAY, 90)
    assert [(e.id, age) for _, e, age in everything.unverified] == [("ke-999", 0)]
    assert [(e.id, age) for _, e, age in everything.stale] == [("ke-116", 200)]
    assert everything.lines() == [
        "hotlines ke-999: never verified by an operator, dated 0 day(s) ago",
        "hotlines ke-116: last verified 200 day(s) ago",
    ]
    only = freshness(CATALOGS, TODAY, 90, only={("hotlines", "ke-116")})
    assert only.count == 1 and only.unverified == []
    assert freshness(CATALOGS, TODAY, 90, only=set()).count == 0


def test_a_menu_serves_the_entries_of_its_content_screens() -> None:
    catalogs = load_catalogs(PROJECT_ROOT / "content")
    text = (PROJECT_ROOT / "menus" / "safe-journey.yaml").read_text(encoding="utf-8")
    checked = check(text, "safe-journey", catalogs, Limit(182))
    assert checked.tree is not None
    served = entries_served(checked.tree)
    assert ("hotlines", "ke-999") in served
    assert {kind for kind, _ in served} <= set(catalogs)


def test_validator_messages_land_on_the_field_they_concern() -> None:
    assert field_of("option '2' label has no 'fr' translation") == "label.2.fr"
    assert field_of("text has no 'so' translation") == "text.so"
    assert field_of("[ar] a closing screen must fit one page (it needs 2)") == "text.ar"
    assert field_of("[en] page 1 is 190 GSM-7 units, over 182") == "text.en"
    # Not a field of the editor's form: shown at the top of the screen.
    assert field_of("[fr] the error text must fit one screen") == ""
    assert field_of("unreachable: no option or goto leads here") == ""
