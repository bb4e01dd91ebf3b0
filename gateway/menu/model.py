"""The menu tree as the engine sees it: frozen, validated data loaded from ``menus/``.

A tree is a set of screens keyed by id. Every text is a :data:`Texts` mapping from a
language code to the text in that language; a missing language falls back to the
tree's fallback language. Screens come in six kinds:

- ``menu``: a header and numbered options, each leading to another screen.
- ``text``: content to read, paginated with ``98 More``; may also carry options.
- ``content``: a text screen whose body is drawn from a content catalog (e.g. the
  hotlines for the caller's country first, then the ones that serve everywhere).
- ``input``: free text, validated (a country, digits, short text), stored in a
  session variable, then ``goto``.
- ``action``: entering it returns an effect (subscribe, unsubscribe, send this by
  SMS) and shows a confirmation; ``end`` closes the session.
- ``language``: lists the tree's languages by their own names; choosing one sets it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from gateway.content.catalog import Catalog

Texts = Mapping[str, str]

# Inputs the navigation owns: no option may use them as its key.
BACK = "0"
HOME = "00"
MORE = "98"
QUICK_EXIT = "99"
RESERVED_KEYS = frozenset({BACK, HOME, MORE, QUICK_EXIT})


class ScreenKind(Enum):
    MENU = "menu"
    TEXT = "text"
    CONTENT = "content"
    INPUT = "input"
    ACTION = "action"
    LANGUAGE = "language"


class Action(Enum):
    SUBSCRIBE = "subscribe"
    UNSUBSCRIBE = "unsubscribe"
    SMS_COPY = "sms_copy"


class Validation(Enum):
    COUNTRY = "country"
    DIGITS = "digits"
    TEXT = "text"


@dataclass(frozen=True)
class Option:
    key: str
    label: Texts
    goto: str
    line: int = 0


@dataclass(frozen=True)
class Screen:
    id: str
    kind: ScreenKind
    text: Texts
    options: tuple[Option, ...] = ()
    goto: str | None = None
    end: bool = False
    action: Action | None = None
    topic: str | None = None
    copy_of: str | None = None
    validation: Validation | None = None
    variable: str | None = None
    error: Texts = field(default_factory=dict)
    catalog: str | None = None
    entries: tuple[str, ...] = ()  # content screens: chosen entries (empty = all)
    line: int = 0

    def option(self, key: str) -> Option | None:
        for option in self.options:
            if option.key == key:
                return option
        return None


# The navigation's own words, each keyed by language; a tree may override any.
DEFAULT_NAVIGATION: dict[str, dict[str, str]] = {
    "more": {"en": "98 More"},
    "back": {"en": "0 Back"},
    "home": {"en": "00 Home"},
    "invalid": {"en": "Invalid choice."},
    "exit": {"en": "Thank you. Goodbye."},
    "resume": {"en": "Continue where you left off?\n1 Continue\n2 Start again"},
    "unavailable": {"en": "Service busy. Please try again in a few minutes."},
    # Said after every voice screen that waits for a key (gateway.africastalking.voice_routes).
    "voice_keys": {
        "en": "Press your choice, then hash. Star hash repeats, 0 hash goes back, 99 ends the call."
    },
    # Shown to a roamer once a session, before home, when the service has an SMS number
    # (``sms_number``): the channel that crosses borders. ``{number}`` is replaced;
    # any key goes on.
    "roamer_sms": {"en": "Abroad? This code may not work. Text MENU to {number}\n1 Continue"},
}
# Words a tree may leave out (trees written before the voice channel): the default
# above, or the tree's fallback language, is used instead. A tree with an
# ``sms_number`` must translate ``roamer_sms`` itself (the validator says so).
OPTIONAL_NAVIGATION = frozenset({"voice_keys", "roamer_sms"})
NUMBER_PLACEHOLDER = "{number}"


@dataclass(frozen=True)
class Tree:
    """A whole menu tree with the content it shows."""

    id: str
    languages: tuple[str, ...]
    fallback_language: str
    start: str  # the first screen of a caller with no language yet
    home: str  # where ``00`` leads
    screens: Mapping[str, Screen]
    navigation: Mapping[str, Texts]
    language_names: Texts
    catalogs: Mapping[str, Catalog] = field(default_factory=dict)
    sample: bool = False
    source: str = ""  # the file it was loaded from, for messages
    # The codes this tree answers (USSD codes, SMS and voice numbers); () = the default
    # tree, which answers any code no other tree claims (gateway.menu.services).
    service_codes: tuple[str, ...] = ()
    # The number a caller can text MENU to from any network (international form), shown
    # to roamers; "" = none configured (or no SMS channel): nothing is offered.
    sms_number: str = ""
    # Operators' country aliases (``content/country-aliases.yaml``): (alias, alpha-2).
    country_aliases: tuple[tuple[str, str], ...] = ()
    # Pages are a pure function of (screen, language, country, limit): memoised here.
    page_cache: dict[Any, Any] = field(default_factory=dict, compare=False, repr=False)

    def text(self, texts: Texts, language: str) -> str:
        """``texts`` in ``language``, else in the fallback language, else any."""
        if language in texts:
            return texts[language]
        if self.fallback_language in texts:
            return texts[self.fallback_language]
        return next(iter(texts.values()), "")

    def nav(self, word: str, language: str) -> str:
        return self.text(self.navigation.get(word, DEFAULT_NAVIGATION[word]), language)

    def roamer_line(self, language: str) -> str:
        """What a roamer is offered before home, or "" with no SMS number."""
        if not self.sms_number:
            return ""
        return self.nav("roamer_sms", language).replace(NUMBER_PLACEHOLDER, self.sms_number)
