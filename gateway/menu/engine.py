"""The menu engine: ``step(tree, state, input) -> (display, new state, effects)``.

Pure: no I/O, no clock, no asyncio. The same tree, state and input always give the
same result, which is what lets a replayed request return the same screen, lets the
console's simulator show exactly what a handset sees, and lets the tests explore
every path with hypothesis.

Navigation every screen understands (the keys of :mod:`gateway.menu.model`):
``0`` back (previous page, else previous screen), ``00`` home, ``98`` more (next
page), ``99`` quick exit: the session ends at once on a neutral screen and nothing
is kept to resume, for a person who must hide what they were reading. Any other
input that the screen does not accept re-shows it with a short hint; it never ends
the session.

A roamer (their number's country is not their network's, both known) of a service
with an SMS number is shown, once a session and before home, the offer to use the
menu by SMS (``roamer_sms``); any key goes on to home.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from gateway.menu.countries import country_code
from gateway.menu.effects import (
    Effect,
    SMSCopyRequested,
    SubscribeRequested,
    UnsubscribeRequested,
)
from gateway.menu.model import (
    BACK,
    HOME,
    MORE,
    QUICK_EXIT,
    Action,
    Screen,
    ScreenKind,
    Tree,
    Validation,
)
from gateway.menu.pages import Limit, Pages, body_of, pages_of

RESUME_SCREEN = "__resume__"
# A roamer's offer of the SMS menu, shown once a session before home (see _show).
ROAMER_SCREEN = "__roamer__"
RESUME_CONTINUE = "1"
RESUME_RESTART = "2"
HISTORY_DEPTH = 20
DEFAULT_LIMIT = Limit()
MAX_INPUT = 160


@dataclass(frozen=True)
class SessionState:
    """Where a caller is. Holds no phone number: it is stored under a keyed hash."""

    screen: str
    language: str
    page: int = 0
    history: tuple[str, ...] = ()
    country: str = ""  # from the caller's network (MCC), ISO 3166 alpha-2
    variables: tuple[tuple[str, str], ...] = ()
    resume: SessionState | None = None  # on the resume prompt: the state to resume
    ended: bool = False
    home: str = ""  # the country of the caller's number, when it differs: a roamer
    # The caller got the invalid-choice hint on this screen: its pages keep room for it.
    hinted: bool = False
    offered: bool = False  # a roamer was offered the SMS menu in this session

    def variable(self, name: str) -> str:
        return dict(self.variables).get(name, "")

    def with_variable(self, name: str, value: str) -> SessionState:
        kept = tuple((k, v) for k, v in self.variables if k != name)
        return replace(self, variables=(*kept, (name, value)))

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"s": self.screen, "l": self.language}
        if self.page:
            data["p"] = self.page
        if self.history:
            data["h"] = list(self.history)
        if self.country:
            data["c"] = self.country
        if self.variables:
            data["v"] = dict(self.variables)
        if self.resume is not None:
            data["r"] = self.resume.to_dict()
        if self.ended:
            data["e"] = True
        if self.home:
            data["o"] = self.home
        if self.hinted:
            data["i"] = True
        if self.offered:
            data["f"] = True
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SessionState:
        resume = data.get("r")
        return cls(
            screen=str(data["s"]),
            language=str(data["l"]),
            page=int(data.get("p", 0)),
            history=tuple(str(h) for h in data.get("h", ())),
            country=str(data.get("c", "")),
            variables=tuple((str(k), str(v)) for k, v in dict(data.get("v", {})).items()),
            resume=cls.from_dict(resume) if isinstance(resume, dict) else None,
            ended=bool(data.get("e", False)),
            home=str(data.get("o", "")),
            hinted=bool(data.get("i", False)),
            offered=bool(data.get("f", False)),
        )


@dataclass(frozen=True)
class Display:
    """What the handset shows. ``end`` closes the session (AT ``END``)."""

    text: str
    end: bool
    screen_id: str


@dataclass(frozen=True)
class StepResult:
    display: Display
    state: SessionState
    effects: tuple[Effect, ...] = ()
    quick_exit: bool = False  # the caller hid the session: keep nothing to resume
    # Whether the caller's input was accepted (False: the screen was re-shown with a hint).
    accepted: bool = True
    chose_language: bool = False  # the caller picked a language on a language screen


def start(
    tree: Tree,
    *,
    language: str | None = None,
    country: str = "",
    resume: SessionState | None = None,
    limit: Limit = DEFAULT_LIMIT,
    home: str = "",
) -> StepResult:
    """The first screen of a session.

    A caller whose last session dropped (``resume``) is asked whether to continue; a
    caller whose language is known starts at home; anyone else at ``tree.start``.
    ``country`` is where the caller is (their network's country); ``home`` is their
    number's country, kept only when it differs (a roamer is offered both).
    """
    home = home if home != country else ""
    if resume is not None and not resume.ended and resume.screen in tree.screens:
        state = SessionState(
            screen=RESUME_SCREEN,
            language=resume.language,
            country=country,
            resume=resume,
            home=home,
        )
        return _show(tree, state, limit)
    if language in tree.languages:
        state = SessionState(screen=tree.home, language=language, country=country, home=home)
    else:
        state = SessionState(
            screen=tree.start, language=tree.fallback_language, country=country, home=home
        )
    return _show(tree, state, limit)


def step(
    tree: Tree, state: SessionState, user_input: str, limit: Limit = DEFAULT_LIMIT
) -> StepResult:
    """Apply one input to a session and return what to show next."""
    choice = user_input.strip()[:MAX_INPUT]
    state = _repair(tree, state)
    if state.ended:
        return _exit(tree, state)
    if choice == QUICK_EXIT:
        return _exit(tree, state)
    if state.screen == RESUME_SCREEN:
        return _resume(tree, state, choice, limit)
    if state.screen == ROAMER_SCREEN:  # any key goes on to home, where they were going
        return _show(tree, _move(state, tree.home, state.history), limit)
    if choice == HOME:
        return _show(tree, _move(state, tree.home, ()), limit)
    if choice == BACK:
        return _back(tree, state, limit)
    screen = tree.screens[state.screen]
    if choice == MORE:
        pages = _pages(tree, screen, state, limit)
        if state.page + 1 < len(pages.texts):
            return _show(tree, replace(state, page=state.page + 1), limit)
        return _hint(tree, state, limit)
    if screen.kind is ScreenKind.LANGUAGE:
        return _choose_language(tree, state, screen, choice, limit)
    if screen.kind is ScreenKind.INPUT:
        return _take_input(tree, state, screen, choice, limit)
    option = screen.option(choice)
    if option is None:
        return _hint(tree, state, limit)
    return _enter(tree, state, option.goto, limit)


def _repair(tree: Tree, state: SessionState) -> SessionState:
    """A state saved under an older tree may name screens or languages it no longer has."""
    if state.language not in tree.languages:
        state = replace(state, language=tree.fallback_language)
    if state.screen not in (RESUME_SCREEN, ROAMER_SCREEN) and state.screen not in tree.screens:
        state = _move(state, tree.home, ())
    history = tuple(h for h in state.history if h in tree.screens)
    if history != state.history:
        state = replace(state, history=history)
    return state


def _move(state: SessionState, screen: str, history: tuple[str, ...]) -> SessionState:
    """``state`` on the first page of another screen (with no hint shown there yet)."""
    return replace(state, screen=screen, page=0, history=history, hinted=False)


def _pages(
    tree: Tree, screen: Screen, state: SessionState, limit: Limit, *, hinted: bool | None = None
) -> Pages:
    return pages_of(
        tree,
        screen,
        state.language,
        _country(state),
        limit,
        home=_home(state),
        hinted=state.hinted if hinted is None else hinted,
    )


def _country(state: SessionState) -> str:
    return state.variable("country") or state.country


def roaming(state: SessionState) -> bool:
    """The caller's number belongs to another country than the network they are on
    (both known: a channel that cannot tell the network's country never says so)."""
    return bool(state.country and state.home and state.home != state.country)


def _home(state: SessionState) -> str:
    """A roamer's home country, shown after where they are; not once they chose one."""
    return "" if state.variable("country") else state.home


def _show(tree: Tree, state: SessionState, limit: Limit, *effects: Effect) -> StepResult:
    if state.screen == RESUME_SCREEN:
        text = tree.nav("resume", state.language)
        return StepResult(Display(text, False, RESUME_SCREEN), state, effects)
    if state.screen == tree.home and not state.offered and roaming(state) and tree.sms_number:
        # USSD codes often fail a roamer (a visited network forwards them home) and SMS
        # crosses borders: the first time home comes up, the SMS number is offered.
        offer = replace(state, screen=ROAMER_SCREEN, page=0, hinted=False, offered=True)
        text = tree.roamer_line(state.language)
        return StepResult(Display(text, False, ROAMER_SCREEN), offer, effects)
    if state.screen == ROAMER_SCREEN:
        text = tree.roamer_line(state.language)
        return StepResult(Display(text, False, ROAMER_SCREEN), state, effects)
    screen = tree.screens[state.screen]
    pages = _pages(tree, screen, state, limit)
    page = min(state.page, len(pages.texts) - 1)
    last_page = page == len(pages.texts) - 1
    end = screen.end and last_page
    state = replace(state, page=page, ended=end)
    return StepResult(Display(pages.texts[page], end, screen.id), state, effects)


def _hint(tree: Tree, state: SessionState, limit: Limit) -> StepResult:
    """Re-show the current page behind a short hint, every option still on it.

    The first hint on a screen moves the caller onto the screen's hinted pages (each
    keeps room for the hint), at the one that holds the start of the page they were
    on: they lose no option and skip no text.
    """
    hint = tree.nav("invalid", state.language)
    if state.screen in (RESUME_SCREEN, ROAMER_SCREEN):
        shown = _show(tree, state, limit)
    else:
        if not state.hinted:
            screen = tree.screens[state.screen]
            plain = _pages(tree, screen, state, limit, hinted=False)
            offset = plain.starts()[min(state.page, len(plain.texts) - 1)]
            hinted = _pages(tree, screen, state, limit, hinted=True)
            page = max(i for i, start in enumerate(hinted.starts()) if start <= offset)
            state = replace(state, page=page, hinted=True)
        shown = _show(tree, state, limit)
    display = replace(shown.display, text=f"{hint}\n{shown.display.text}")
    return replace(shown, display=display, accepted=False)


def _exit(tree: Tree, state: SessionState) -> StepResult:
    ended = SessionState(screen=tree.home, language=state.language, ended=True)
    display = Display(tree.nav("exit", state.language), True, "__exit__")
    return StepResult(display, ended, quick_exit=True)


def _back(tree: Tree, state: SessionState, limit: Limit) -> StepResult:
    if state.page > 0:
        return _show(tree, replace(state, page=state.page - 1), limit)
    if state.history:
        previous = state.history[-1]
        return _show(tree, _move(state, previous, state.history[:-1]), limit)
    return _show(tree, state, limit)


def _resume(tree: Tree, state: SessionState, choice: str, limit: Limit) -> StepResult:
    saved = state.resume
    if choice == RESUME_CONTINUE and saved is not None:
        restored = replace(saved, country=state.country, home=state.home)
        return _show(tree, _repair(tree, restored), limit)
    if choice == RESUME_RESTART or saved is None:
        fresh = SessionState(
            screen=tree.home, language=state.language, country=state.country, home=state.home
        )
        return _show(tree, fresh, limit)
    return _hint(tree, state, limit)


def _enter(tree: Tree, state: SessionState, target: str, limit: Limit) -> StepResult:
    history = (*state.history, state.screen)[-HISTORY_DEPTH:]
    moved = _move(state, target, history)
    screen = tree.screens[target]
    effects: tuple[Effect, ...] = ()
    if screen.kind is ScreenKind.ACTION and screen.action is not None:
        effects = (_effect(tree, moved, screen),)
    return _show(tree, moved, limit, *effects)


def _effect(tree: Tree, state: SessionState, screen: Screen) -> Effect:
    if screen.action is Action.SUBSCRIBE:
        return SubscribeRequested(
            topic=screen.topic or "", language=state.language, region=_country(state)
        )
    if screen.action is Action.UNSUBSCRIBE:
        return UnsubscribeRequested(topic=screen.topic, language=state.language)
    source = tree.screens.get(screen.copy_of or "") or screen
    text = body_of(
        tree, source, state.language, _country(state), with_options=False, home=_home(state)
    )
    return SMSCopyRequested(text=text, language=state.language, screen_id=source.id)


def _choose_language(
    tree: Tree, state: SessionState, screen: Screen, choice: str, limit: Limit
) -> StepResult:
    if choice.isascii() and choice.isdigit() and 1 <= int(choice) <= len(tree.languages):
        chosen = replace(state, language=tree.languages[int(choice) - 1])
        return replace(_enter(tree, chosen, screen.goto or tree.home, limit), chose_language=True)
    return _hint(tree, state, limit)


def _take_input(
    tree: Tree, state: SessionState, screen: Screen, choice: str, limit: Limit
) -> StepResult:
    value = validate_input(screen.validation, choice, tree)
    if value is None:
        if screen.error:
            shown = _show(tree, state, limit)
            error = tree.text(screen.error, state.language)
            return replace(shown, display=replace(shown.display, text=error), accepted=False)
        return _hint(tree, state, limit)
    stored = state.with_variable(screen.variable or "input", value)
    return _enter(tree, stored, screen.goto or tree.home, limit)


def validate_input(validation: Validation | None, raw: str, tree: Tree | None = None) -> str | None:
    """The normalised value of a free-text input, or None when it is not acceptable."""
    if not raw:
        return None
    if validation is Validation.DIGITS:
        return raw if raw.isascii() and raw.isdigit() and len(raw) <= 15 else None
    if validation is Validation.COUNTRY:
        if tree is None:
            return country_code(raw)
        return country_code(raw, tree.languages, tree.country_aliases)
    return raw if raw.isprintable() and len(raw) <= 60 else None
