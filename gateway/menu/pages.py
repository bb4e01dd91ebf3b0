"""Turning a screen into the pages a handset shows: body, options, footer, budget.

Pure and memoised. A page is a slice of the screen's body, then *every* option line
of the screen, then a footer line of navigation markers (``98 More, 0 Back, 00 Home``
in the caller's language). Options and footer are never cut: a caller on a cheap
phone cannot guess a choice they were not shown, so the body is what gets paginated.
Every page fits the channel's limit, counted in GSM-7 septets (extension characters
cost two) or, when any character of the screen needs it, in UCS-2 code units.

A screen shown after an invalid entry carries the ``Invalid choice.`` hint on top.
Its pages (``hinted``) keep room for that line, so the hint never pushes an option
off the page; the engine moves a caller onto them only once they got a hint.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.content.catalog import Entry
from gateway.errors import GatewayError
from gateway.menu.countries import country_name
from gateway.menu.model import Screen, ScreenKind, Tree
from gateway.sms.encoding import Alphabet, alphabet_for, length_in, split_to_fit


@dataclass(frozen=True)
class Limit:
    """A channel's screen limit. ``gsm7`` is in septets; a UCS-2 screen carries the
    same octets, two per character: 182 septets fill 160 octets = 80 UCS-2 characters
    (a USSD string is at most 160 octets, 3GPP TS 24.080)."""

    gsm7: int = 182

    def for_alphabet(self, alphabet: Alphabet) -> int:
        if alphabet is Alphabet.GSM7:
            return self.gsm7
        octets = (self.gsm7 * 7 + 7) // 8
        return octets // 2


# A page whose text gets less room than this would show a caller a word cut in pieces
# ("Lan", "gua", "ge"): the tree must make room instead.
MIN_BODY = 10


class PaginationError(GatewayError, ValueError):
    """The options and footer alone leave no room for the body: the tree must be fixed."""


@dataclass(frozen=True)
class Pages:
    bodies: tuple[str, ...]  # slices of the body: joined, they give it back exactly
    texts: tuple[str, ...]  # what the handset shows, options and footer included
    alphabet: Alphabet

    def starts(self) -> tuple[int, ...]:
        """Where each page's slice begins in the body (in characters)."""
        offsets, at = [], 0
        for body in self.bodies:
            offsets.append(at)
            at += len(body)
        return tuple(offsets)


def _lines(*parts: str) -> str:
    return "\n".join(part for part in parts if part)


def paginate(
    body: str,
    more_footer: str,
    last_footer: str,
    limit: Limit,
    options: Sequence[str] = (),
    hint: str = "",
) -> Pages:
    """Split ``body`` so each page plus every option line and its footer fits ``limit``.

    ``more_footer`` closes every page but the last (it carries ``98 More``);
    ``last_footer`` closes the last page. An empty footer adds no line. With a
    ``hint``, every page keeps room for it as a line of its own on top (the texts do
    not include it: the caller adds it when they show one).
    """
    alphabet = alphabet_for(body + more_footer + last_footer + "".join(options) + hint)
    capacity = limit.for_alphabet(alphabet)
    if hint:
        capacity -= length_in(hint + "\n", alphabet)

    def page(text: str, footer: str) -> str:
        return _lines(text.rstrip(" \n"), *options, footer)

    bodies: list[str] = []
    rest = body
    while True:
        if length_in(page(rest, last_footer), alphabet) <= capacity:
            bodies.append(rest)
            break
        fixed = _lines(*options, more_footer)
        budget = capacity - (length_in("\n" + fixed, alphabet) if fixed else 0)
        head, rest = split_to_fit(rest, budget, alphabet)
        if budget < MIN_BODY or not head.strip(" \n"):
            shown = _lines(hint, *options, more_footer if rest else last_footer)
            raise PaginationError(
                f"the options and navigation ({length_in(shown, alphabet)} units"
                f"{', with the hint' if hint else ''}) leave {max(budget, 0)} for the text "
                f"in a {limit.for_alphabet(alphabet)}-unit screen (it needs {MIN_BODY})"
            )
        bodies.append(head)
    texts = tuple(
        page(part, last_footer if index == len(bodies) - 1 else more_footer)
        for index, part in enumerate(bodies)
    )
    return Pages(tuple(bodies), texts, alphabet)


def body_text(tree: Tree, screen: Screen, language: str, country: str, home: str = "") -> str:
    """The screen's text and content in ``language``, without options or footer.

    A content screen drawn from a catalog by country names the country it shows,
    lists that country's entries, then (for a roamer, ``home`` differing from
    ``country``) their home country's under its name, then the entries that serve
    everywhere.
    """
    title = tree.text(screen.text, language) if screen.text else ""
    lines: list[str] = []
    catalog = tree.catalogs.get(screen.catalog or "")
    if screen.kind is ScreenKind.CONTENT and catalog is not None:
        if screen.entries:
            entries = tuple(catalog.by_id[e] for e in screen.entries if e in catalog.by_id)
            lines += [tree.text(entry.text, language) for entry in entries]
        else:
            if title and country:
                title = f"{title}: {country_name(country, language)}"
            own = catalog.own(country)
            lines += [tree.text(entry.text, language) for entry in own]
            theirs: tuple[Entry, ...] = ()
            if home and home != country:
                theirs = tuple(e for e in catalog.own(home) if e not in own)
                if theirs:
                    lines.append(f"{country_name(home, language)}:")
                    lines += [tree.text(entry.text, language) for entry in theirs]
            lines += [
                tree.text(entry.text, language)
                for entry in catalog.everywhere()
                if entry not in own and entry not in theirs
            ]
    return _lines(title, *lines)


def option_lines(tree: Tree, screen: Screen, language: str) -> tuple[str, ...]:
    """The lines a caller chooses from: numbered options, or the languages to pick."""
    if screen.kind is ScreenKind.LANGUAGE:
        return tuple(
            f"{index} {tree.language_names.get(code, code)}"
            for index, code in enumerate(tree.languages, start=1)
        )
    return tuple(f"{o.key} {tree.text(o.label, language)}" for o in screen.options)


def body_of(
    tree: Tree,
    screen: Screen,
    language: str,
    country: str,
    *,
    with_options: bool = True,
    home: str = "",
) -> str:
    """The screen's full text in ``language`` before pagination (options included
    unless ``with_options`` is False: an SMS copy carries the content only)."""
    body = body_text(tree, screen, language, country, home)
    if not with_options:
        return body
    return _lines(body, *option_lines(tree, screen, language))


def footers(tree: Tree, screen: Screen, language: str) -> tuple[str, str]:
    """(footer of a page with more to come, footer of the last page)."""
    if screen.end:
        return tree.nav("more", language), ""
    markers = []
    if screen.id not in (tree.home, tree.start):
        markers = [tree.nav("back", language), tree.nav("home", language)]
    last = ", ".join(markers)
    more = ", ".join([tree.nav("more", language), *markers])
    return more, last


def uses_country(screen: Screen) -> bool:
    """Whether a screen's body depends on the caller's country."""
    return screen.kind is ScreenKind.CONTENT and not screen.entries


def pages_of(
    tree: Tree,
    screen: Screen,
    language: str,
    country: str,
    limit: Limit,
    *,
    home: str = "",
    hinted: bool = False,
) -> Pages:
    """The screen's pages, memoised on the tree (a pure function of its arguments).

    ``hinted``: the pages shown once the caller got the invalid-choice hint, each
    with room for it on top."""
    by_country = uses_country(screen)
    key = (
        screen.id,
        language,
        country if by_country else "",
        home if by_country else "",
        limit.gsm7,
        hinted,
    )
    cached = tree.page_cache.get(key)
    if cached is None:
        more, last = footers(tree, screen, language)
        hint = tree.nav("invalid", language) if hinted and not screen.end else ""
        cached = paginate(
            body_text(tree, screen, language, country, home if by_country else ""),
            more,
            last,
            limit,
            option_lines(tree, screen, language),
            hint,
        )
        tree.page_cache[key] = cached
    assert isinstance(cached, Pages)
    return cached
