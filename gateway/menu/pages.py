"""Turning a screen into the pages a handset shows: body, footer markers, budget.

Pure and memoised. A page is the body's slice plus a footer line of navigation
markers (``98 More, 0 Back, 00 Home`` in the caller's language). Every page, footer
included, fits the channel's limit, counted in GSM-7 septets (extension characters
cost two) or, when any character of the screen needs it, in UCS-2 code units.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.errors import GatewayError
from gateway.menu.model import Screen, ScreenKind, Tree
from gateway.sms.encoding import Alphabet, alphabet_for, length_in, split_to_fit


@dataclass(frozen=True)
class Limit:
    """A channel's screen limit. ``gsm7`` is in septets; a UCS-2 screen carries the
    same octets, two per character: 182 septets = 159 octets = 79 UCS-2 characters."""

    gsm7: int = 182

    def for_alphabet(self, alphabet: Alphabet) -> int:
        return self.gsm7 if alphabet is Alphabet.GSM7 else self.gsm7 * 7 // 16


class PaginationError(GatewayError, ValueError):
    """The footer alone leaves no room for the body: the tree must be fixed."""


@dataclass(frozen=True)
class Pages:
    bodies: tuple[str, ...]  # slices of the body: joined, they give it back exactly
    texts: tuple[str, ...]  # what the handset shows, footer included
    alphabet: Alphabet


def paginate(body: str, more_footer: str, last_footer: str, limit: Limit) -> Pages:
    """Split ``body`` so each page plus its footer fits ``limit``.

    ``more_footer`` closes every page but the last (it carries ``98 More``);
    ``last_footer`` closes the last page. An empty footer adds no line.
    """
    alphabet = alphabet_for(body + more_footer + last_footer)
    capacity = limit.for_alphabet(alphabet)

    def with_footer(text: str, footer: str) -> str:
        text = text.rstrip(" \n")
        if not footer:
            return text
        return f"{text}\n{footer}" if text else footer

    bodies: list[str] = []
    rest = body
    while True:
        if length_in(with_footer(rest, last_footer), alphabet) <= capacity:
            bodies.append(rest)
            break
        budget = capacity - length_in("\n" + more_footer, alphabet)
        head, rest = split_to_fit(rest, budget, alphabet)
        if not head.strip(" \n"):
            raise PaginationError(
                f"the footer {more_footer!r} leaves no room in a {capacity}-unit screen"
            )
        bodies.append(head)
    texts = tuple(
        with_footer(part, last_footer if index == len(bodies) - 1 else more_footer)
        for index, part in enumerate(bodies)
    )
    return Pages(tuple(bodies), texts, alphabet)


def body_of(
    tree: Tree, screen: Screen, language: str, country: str, *, with_options: bool = True
) -> str:
    """The screen's full text in ``language`` before pagination."""
    lines = [tree.text(screen.text, language)] if screen.text else []
    if screen.kind is ScreenKind.LANGUAGE:
        lines += [
            f"{index} {tree.language_names.get(code, code)}"
            for index, code in enumerate(tree.languages, start=1)
        ]
    catalog = tree.catalogs.get(screen.catalog or "")
    if screen.kind is ScreenKind.CONTENT and catalog is not None:
        entries = (
            tuple(catalog.by_id[e] for e in screen.entries if e in catalog.by_id)
            if screen.entries
            else catalog.for_country(country)
        )
        lines += [tree.text(entry.text, language) for entry in entries]
    if with_options:
        lines += [f"{o.key} {tree.text(o.label, language)}" for o in screen.options]
    return "\n".join(line for line in lines if line)


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


def pages_of(tree: Tree, screen: Screen, language: str, country: str, limit: Limit) -> Pages:
    """The screen's pages, memoised on the tree (a pure function of its arguments)."""
    uses_country = screen.kind is ScreenKind.CONTENT and not screen.entries
    key = (screen.id, language, country if uses_country else "", limit.gsm7)
    cached = tree.page_cache.get(key)
    if cached is None:
        more, last = footers(tree, screen, language)
        cached = paginate(body_of(tree, screen, language, country), more, last, limit)
        tree.page_cache[key] = cached
    assert isinstance(cached, Pages)
    return cached
