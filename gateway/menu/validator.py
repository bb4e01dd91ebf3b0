"""The menu validator: a tree that fails it never goes live.

It runs at boot, before a publish in the console, and as ``gateway validate``. Each
:class:`~gateway.menu.loader.Problem` names the file, the line and the screen:

- dangling links (an option, ``goto``, ``start``, ``home`` or ``copy_of`` naming no
  screen; a content screen naming no catalog or entry);
- unreachable screens;
- missing translations (screen texts, option labels, navigation words, language
  names, and the content entries a screen shows) for each of the tree's languages;
- duplicate or reserved option keys (0, 00, 98, 99 belong to the navigation);
- an ``sms_number`` (offered to roamers) that is not an international number, not
  one of the tree's ``service_codes``, or whose offer (``roamer_sms``) is not
  translated, with ``{number}``, in every language;
- any page that, in any language, for any caller country (and any roamer's home
  country), with or without the invalid-choice hint, exceeds the channel's limit or
  lacks one of the screen's option lines or its navigation footer; the roamer's offer
  of the SMS number over one USSD screen or one SMS; a screen whose
  options, footer and hint alone leave no room for its text; closing screens that
  need more than one page (a closed session cannot page on).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from gateway.africastalking.voice_dialect import spoken_seconds
from gateway.content.catalog import ContentError, load_catalogs
from gateway.content.country_aliases import load_country_aliases
from gateway.menu.loader import Problem, TreeError, load_tree_file
from gateway.menu.model import (
    DEFAULT_NAVIGATION,
    NUMBER_PLACEHOLDER,
    OPTIONAL_NAVIGATION,
    RESERVED_KEYS,
    Action,
    Screen,
    ScreenKind,
    Tree,
)
from gateway.menu.pages import (
    Limit,
    PaginationError,
    body_of,
    option_lines,
    pages_of,
    uses_country,
)
from gateway.menu.services import normalise_code
from gateway.sms.encoding import alphabet_for, length_in
from gateway.sms.menu_dialect import menu_limit

# Navigation words that are shown as a whole screen of their own.
_WHOLE_SCREEN_WORDS = ("exit", "resume", "unavailable")


def validate(tree: Tree, limit: Limit) -> list[Problem]:
    problems: list[Problem] = []
    problems += _links(tree)
    if problems:
        return problems  # reachability and lengths need whole links
    problems += _reachability(tree)
    problems += _translations(tree)
    problems += _option_keys(tree)
    problems += _sms_number(tree)
    problems += _lengths(tree, limit)
    return problems


def voice_warnings(tree: Tree, max_seconds: int) -> list[Problem]:
    """Screens that take longer than ``max_seconds`` to read aloud, in any language.

    Warnings, not faults: the tree still goes live. A caller waits through the whole
    screen before choosing, and long voice screens are where calls are abandoned.
    """
    warnings = []
    for screen in tree.screens.values():
        for language in tree.languages:
            heard = body_of(tree, screen, language, "")
            if not screen.end:  # the keys are said after every screen that waits for one
                heard += "\n" + tree.nav("voice_keys", language)
            seconds = spoken_seconds(heard)
            if seconds > max_seconds:
                warnings.append(
                    _problem(
                        tree,
                        screen,
                        f"read aloud in {language!r} it takes about {seconds:.0f} s "
                        f"(over {max_seconds} s): shorten it or split it for voice callers",
                    )
                )
    return warnings


def _problem(tree: Tree, screen: Screen | None, message: str, line: int = 0) -> Problem:
    return Problem(
        tree.source, line or (screen.line if screen else 0), screen.id if screen else "", message
    )


def _targets(screen: Screen) -> Iterator[tuple[str, int, str]]:
    """(target screen id, line, what links) for every link out of ``screen``."""
    for option in screen.options:
        yield option.goto, option.line, f"option {option.key!r}"
    if screen.goto:
        yield screen.goto, screen.line, "goto"


def _links(tree: Tree) -> list[Problem]:
    problems = []
    for name, target in (("start", tree.start), ("home", tree.home)):
        if target not in tree.screens:
            problems.append(_problem(tree, None, f"{name} names no screen: {target!r}"))
    for screen in tree.screens.values():
        if screen.id.startswith("__"):
            problems.append(_problem(tree, screen, "screen ids starting with '__' are reserved"))
        for target, line, what in _targets(screen):
            if target not in tree.screens:
                problems.append(
                    _problem(tree, screen, f"{what} links to missing screen {target!r}", line)
                )
        if screen.copy_of and screen.copy_of not in tree.screens:
            problems.append(_problem(tree, screen, f"copy_of names no screen: {screen.copy_of!r}"))
        if screen.kind is ScreenKind.CONTENT:
            catalog = tree.catalogs.get(screen.catalog or "")
            if catalog is None:
                problems.append(_problem(tree, screen, f"no content catalog {screen.catalog!r}"))
                continue
            for entry in screen.entries:
                if entry not in catalog.by_id:
                    problems.append(
                        _problem(tree, screen, f"catalog {catalog.kind!r} has no entry {entry!r}")
                    )
        if screen.action is Action.SUBSCRIBE and not screen.topic:
            problems.append(_problem(tree, screen, "a subscribe action needs a 'topic'"))
    return problems


def _reachability(tree: Tree) -> list[Problem]:
    seen = {tree.start, tree.home}
    queue = [tree.start, tree.home]
    while queue:
        screen = tree.screens[queue.pop()]
        for target, _, _ in _targets(screen):
            if target not in seen:
                seen.add(target)
                queue.append(target)
        if screen.kind is ScreenKind.LANGUAGE and not screen.goto and tree.home not in seen:
            seen.add(tree.home)
    return [
        _problem(tree, screen, "unreachable: no option or goto leads here")
        for screen in tree.screens.values()
        if screen.id not in seen
    ]


def _translations(tree: Tree) -> list[Problem]:
    problems = []
    for language in tree.languages:
        for screen in tree.screens.values():
            if screen.text and language not in screen.text:
                problems.append(_problem(tree, screen, f"text has no {language!r} translation"))
            if screen.error and language not in screen.error:
                problems.append(_problem(tree, screen, f"error has no {language!r} translation"))
            for option in screen.options:
                if language not in option.label:
                    problems.append(
                        _problem(
                            tree,
                            screen,
                            f"option {option.key!r} label has no {language!r} translation",
                            option.line,
                        )
                    )
            if screen.kind is ScreenKind.CONTENT:
                catalog = tree.catalogs[screen.catalog or ""]
                entries = (
                    [catalog.by_id[e] for e in screen.entries]
                    if screen.entries
                    else catalog.entries
                )
                for entry in entries:
                    if language not in entry.text:
                        problems.append(
                            _problem(
                                tree,
                                screen,
                                f"content entry {entry.id!r} ({catalog.source_file}:{entry.line}) "
                                f"has no {language!r} translation",
                            )
                        )
        for word in DEFAULT_NAVIGATION:
            if word in OPTIONAL_NAVIGATION and word not in tree.navigation:
                continue
            if language not in tree.navigation.get(word, {}):
                problems.append(
                    _problem(tree, None, f"navigation word {word!r} has no {language!r} text")
                )
        if language not in tree.language_names:
            problems.append(_problem(tree, None, f"language_names lacks {language!r}"))
    return problems


def _sms_number(tree: Tree) -> list[Problem]:
    """The number offered to roamers: a number, this service's own, and the offer
    translated (with the number in it) in every language."""
    if not tree.sms_number:
        return []
    problems = []
    digits = tree.sms_number.removeprefix("+")
    international = tree.sms_number.startswith("+") and digits.isascii() and digits.isdigit()
    if not (international and 8 <= len(digits) <= 15):
        # A roamer's SMS goes through their home network's SMSC: a local short code
        # does not reach us from there, an international number does.
        problems.append(
            _problem(
                tree,
                None,
                f"sms_number {tree.sms_number!r} must be an international number "
                "(+ and 8-15 digits): a short code is not reachable from a foreign SIM",
            )
        )
    claimed = {normalise_code(code) for code in tree.service_codes}
    if tree.service_codes and normalise_code(tree.sms_number) not in claimed:
        problems.append(
            _problem(
                tree,
                None,
                f"sms_number {tree.sms_number!r} is not one of this tree's service_codes: "
                "MENU sent there would reach another service",
            )
        )
    offers = tree.navigation.get("roamer_sms", {})
    for language in tree.languages:
        if language not in offers and "roamer_sms" not in tree.navigation:
            problems.append(
                _problem(
                    tree,
                    None,
                    f"navigation word 'roamer_sms' has no {language!r} text "
                    "(a tree with an sms_number offers it to roamers in every language)",
                )
            )
        elif language in offers and NUMBER_PLACEHOLDER not in offers[language]:
            problems.append(
                _problem(
                    tree,
                    None,
                    f"[{language}] navigation word 'roamer_sms' lacks {NUMBER_PLACEHOLDER}",
                )
            )
    return problems


def _option_keys(tree: Tree) -> list[Problem]:
    problems = []
    for screen in tree.screens.values():
        seen: set[str] = set()
        for option in screen.options:
            if option.key in RESERVED_KEYS:
                problems.append(
                    _problem(
                        tree,
                        screen,
                        f"option key {option.key!r} is reserved for navigation (0, 00, 98, 99)",
                        option.line,
                    )
                )
            if option.key in seen:
                problems.append(
                    _problem(tree, screen, f"duplicate option key {option.key!r}", option.line)
                )
            seen.add(option.key)
            if not (option.key.isascii() and option.key.isdigit()):
                problems.append(
                    _problem(tree, screen, f"option key {option.key!r} is not digits", option.line)
                )
        if screen.kind is ScreenKind.MENU and not screen.options:
            problems.append(_problem(tree, screen, "a menu screen needs options"))
    return problems


def _countries(tree: Tree, screen: Screen) -> list[tuple[str, str]]:
    """(caller's country, roamer's home country) pairs that change what a screen shows."""
    if not uses_country(screen):
        return [("", "")]
    catalog = tree.catalogs[screen.catalog or ""]
    named = sorted({c for entry in catalog.entries for c in entry.countries if c != "*"})
    pairs = [("", "")] + [(country, "") for country in named]
    # A roamer sees a second country's entries after the first. Pages are cut to fit
    # and carry every option by construction, so what a second country can change is
    # only how many pages there are: each country is checked once as a roamer's home.
    pairs += [(country, named[index - 1]) for index, country in enumerate(named) if index]
    return pairs


def _lengths(tree: Tree, limit: Limit) -> list[Problem]:
    problems = []
    for language in tree.languages:
        for screen in tree.screens.values():
            problems += _screen_lengths(tree, screen, language, limit)
        if tree.sms_number:
            # The roamer's offer is one screen, on USSD and in one SMS (the smaller).
            offer = tree.roamer_line(language)
            for channel, channel_limit in (("", limit), ("by SMS: ", menu_limit(1))):
                if _over_one_screen(offer, channel_limit):
                    problems.append(
                        _problem(
                            tree,
                            None,
                            f"{channel}[{language}] the roamer's offer (roamer_sms, with "
                            f"{tree.sms_number}) is over one screen",
                        )
                    )
        for screen in tree.screens.values():
            if screen.error and _over_one_screen(tree.text(screen.error, language), limit):
                problems.append(
                    _problem(tree, screen, f"[{language}] the error text must fit one screen")
                )
        for word in _WHOLE_SCREEN_WORDS:
            if _over_one_screen(tree.nav(word, language), limit):
                problems.append(
                    _problem(tree, None, f"[{language}] navigation word {word!r} over the limit")
                )
        hinted_resume = f"{tree.nav('invalid', language)}\n{tree.nav('resume', language)}"
        if _over_one_screen(hinted_resume, limit):
            problems.append(
                _problem(
                    tree,
                    None,
                    f"[{language}] the resume question with the invalid-choice hint "
                    "is over the limit",
                )
            )
    return problems


def _screen_lengths(tree: Tree, screen: Screen, language: str, limit: Limit) -> list[Problem]:
    """Every page of ``screen`` in ``language``, with and without the hint, for every
    country that changes it: within the limit, every option line and the footer on it."""
    problems = []
    options = option_lines(tree, screen, language)
    for hinted in (False, True) if not screen.end else (False,):
        with_hint = " with the invalid-choice hint" if hinted else ""
        for country, home in _countries(tree, screen):
            try:
                pages = pages_of(tree, screen, language, country, limit, home=home, hinted=hinted)
            except PaginationError as exc:
                return [_problem(tree, screen, f"[{language}] {exc}")]
            capacity = limit.for_alphabet(pages.alphabet)
            hint = tree.nav("invalid", language) + "\n" if hinted else ""
            for number, text in enumerate(pages.texts, start=1):
                size = length_in(hint + text, pages.alphabet)
                if size > capacity:
                    problems.append(
                        _problem(
                            tree,
                            screen,
                            f"[{language}] page {number}{with_hint} is {size} "
                            f"{pages.alphabet.value} units, over the limit of {capacity}",
                        )
                    )
                missing = [line for line in options if line not in text.split("\n")]
                if missing:
                    problems.append(
                        _problem(
                            tree,
                            screen,
                            f"[{language}] page {number}{with_hint} lacks option line(s) {missing}",
                        )
                    )
            if screen.end and len(pages.texts) > 1:
                problems.append(
                    _problem(
                        tree,
                        screen,
                        f"[{language}] a closing screen must fit one page "
                        f"(it needs {len(pages.texts)})",
                    )
                )
            if problems:
                return problems
    return problems


def _over_one_screen(text: str, limit: Limit) -> bool:
    alphabet = alphabet_for(text)
    return length_in(text, alphabet) > limit.for_alphabet(alphabet)


def check_file(path: Path, content: Path, limit: Limit) -> tuple[Tree | None, list[Problem]]:
    """Load and validate one tree file with the catalogs in ``content``."""
    try:
        catalogs = load_catalogs(content)
        aliases = load_country_aliases(content)
    except ContentError as exc:
        return None, [Problem(str(content), 0, "", str(exc))]
    try:
        tree = load_tree_file(path, catalogs, aliases)
    except TreeError as exc:
        return None, exc.problems
    return tree, validate(tree, limit)


def load_valid_tree(path: Path, content: Path, limit: Limit) -> Tree:
    """The tree, or :class:`TreeError` with every problem: what the gateway boots with."""
    tree, problems = check_file(path, content, limit)
    if problems or tree is None:
        raise TreeError(problems)
    return tree
