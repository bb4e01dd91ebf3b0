"""A draft as the gateway would see it: loaded, validated, measured and dialled.

The console never re-implements the engine: it loads the draft with the same loader,
checks it with the same validator, measures screens with the same pager and walks
the simulator with the same ``step`` -- so what an operator sees here is what a
handset gets.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gateway.content.catalog import Catalog
from gateway.content.country_aliases import CountryAliases
from gateway.menu import engine
from gateway.menu.loader import Problem, TreeError, load_tree_text
from gateway.menu.model import Tree
from gateway.menu.pages import Limit, PaginationError, body_of, footers, pages_of
from gateway.menu.validator import validate
from gateway.sms.encoding import Alphabet, length_in


@dataclass
class CheckedDraft:
    tree: Tree | None
    problems: list[Problem]
    by_screen: dict[str, list[Problem]] = field(default_factory=dict)
    general: list[Problem] = field(default_factory=list)

    @property
    def publishable(self) -> bool:
        return self.tree is not None and not self.problems

    def on_fields(self, screen_id: str) -> dict[str, list[Problem]]:
        """A screen's problems by the editor's field they concern (``text.fr``,
        ``label.2.fr``), the rest under ``""``."""
        fields: dict[str, list[Problem]] = {}
        for problem in self.by_screen.get(screen_id, []):
            fields.setdefault(field_of(problem.message), []).append(problem)
        return fields


_LABEL = re.compile(r"^option '([^']*)' label has no '([^']+)' translation")
_TEXT = re.compile(r"^text has no '([^']+)' translation")
_PAGE = re.compile(r"^\[([^\]]+)\] (?!the error text)")


def field_of(message: str) -> str:
    """The editor's form field a validator message is about, or "" for the screen."""
    if found := _LABEL.match(message):
        return f"label.{found.group(1)}.{found.group(2)}"
    if found := _TEXT.match(message):
        return f"text.{found.group(1)}"
    if found := _PAGE.match(message):  # a page of the screen in one language
        return f"text.{found.group(1)}"
    return ""


def check(
    yaml_text: str,
    name: str,
    catalogs: dict[str, Catalog],
    limit: Limit,
    country_aliases: CountryAliases = (),
) -> CheckedDraft:
    """Load and validate ``yaml_text`` (with the operators' country aliases, as the live
    gateway loads it); problems grouped by the screen they concern."""
    try:
        tree = load_tree_text(yaml_text, f"{name}.yaml", catalogs, country_aliases)
    except TreeError as exc:
        result = CheckedDraft(None, list(exc.problems))
    else:
        result = CheckedDraft(tree, validate(tree, limit))
    grouped: dict[str, list[Problem]] = defaultdict(list)
    for problem in result.problems:
        if problem.screen:
            grouped[problem.screen].append(problem)
        else:
            result.general.append(problem)
    result.by_screen = dict(grouped)
    return result


@dataclass(frozen=True)
class Budget:
    """What the budget counter needs: the rest of the page around the edited text."""

    extra: str  # appended to the text: options, content lines, navigation footer
    limit_gsm7: int
    limit_ucs2: int
    pages: int  # how many pages the screen takes now (1 = fits)
    used: int
    alphabet: str


def budget(tree: Tree | None, screen_id: str, language: str, limit: Limit) -> Budget:
    gsm7 = limit.for_alphabet(Alphabet.GSM7)
    ucs2 = limit.for_alphabet(Alphabet.UCS2)
    if tree is None or screen_id not in tree.screens:
        return Budget("", gsm7, ucs2, 1, 0, "gsm7")
    screen = tree.screens[screen_id]
    own = tree.text(screen.text, language) if screen.text else ""
    body = body_of(tree, screen, language, "")
    rest = body[len(own) :] if body.startswith(own) else "\n" + body
    _, last_footer = footers(tree, screen, language)
    extra = rest.rstrip(" \n") + (f"\n{last_footer}" if last_footer else "")
    try:
        pages = pages_of(tree, screen, language, "", limit)
    except PaginationError:
        return Budget(extra, gsm7, ucs2, 0, 0, "gsm7")
    used = length_in(pages.texts[0], pages.alphabet) if len(pages.texts) == 1 else 0
    if len(pages.texts) > 1:
        used = length_in((own + extra), pages.alphabet)
    return Budget(extra, gsm7, ucs2, len(pages.texts), used, pages.alphabet.value)


@dataclass(frozen=True)
class CallerView:
    """The pages callers from ``countries`` get on a content screen in one language."""

    countries: tuple[str, ...]  # "" = a caller whose country is unknown or has no entry
    pages: tuple[tuple[str, int], ...]  # (text as shown, size in its alphabet's units)
    capacity: int
    alphabet: str

    @property
    def label(self) -> str:
        named = [c for c in self.countries if c]
        shown = ", ".join(named[:6]) + (f" and {len(named) - 6} more" if len(named) > 6 else "")
        if "" in self.countries:
            return "Callers elsewhere" + (f" and from {shown}" if shown else "")
        return f"Callers from {shown}"


def caller_views(
    tree: Tree | None, screen_id: str, language: str, limit: Limit
) -> list[CallerView]:
    """What a content screen shows, as the engine pages it, per caller country: the
    catalog's entries for that country first. Countries that see the same pages are
    shown once."""
    if tree is None or screen_id not in tree.screens:
        return []
    screen = tree.screens[screen_id]
    catalog = tree.catalogs.get(screen.catalog or "")
    if catalog is None:
        return []
    countries = ["", *sorted({c for e in catalog.entries for c in e.countries if c != "*"})]
    groups: dict[tuple[str, ...], list[str]] = {}
    rendered: dict[tuple[str, ...], CallerView] = {}
    for country in countries:
        try:
            pages = pages_of(tree, screen, language, country, limit)
        except PaginationError:
            continue
        key = tuple(pages.texts)
        groups.setdefault(key, []).append(country)
        if key not in rendered:
            sizes = tuple((text, length_in(text, pages.alphabet)) for text in pages.texts)
            rendered[key] = CallerView(
                (), sizes, limit.for_alphabet(pages.alphabet), pages.alphabet.value
            )
    return [
        CallerView(tuple(groups[key]), view.pages, view.capacity, view.alphabet)
        for key, view in rendered.items()
    ]


# The simulator keeps the engine's state (a plain dict) in the operator's session.
def simulate_start(tree: Tree, language: str, country: str, limit: Limit) -> engine.StepResult:
    chosen = language if language in tree.languages else None
    return engine.start(tree, language=chosen, country=country, limit=limit)


def simulate_step(
    tree: Tree, state: dict[str, Any], user_input: str, limit: Limit
) -> engine.StepResult:
    return engine.step(tree, engine.SessionState.from_dict(state), user_input, limit)


def menu_files(directory: Path) -> dict[str, Path]:
    """Menu trees shipped as files (the seed of each menu's first version).
    ``GATEWAY_MENUS`` may name one file or a folder of them."""
    if directory.is_file():
        return {directory.stem: directory}
    if not directory.is_dir():
        return {}
    return {path.stem: path for path in sorted(directory.glob("*.yaml")) if os.access(path, 4)}
