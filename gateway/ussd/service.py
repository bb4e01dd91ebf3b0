"""The USSD service: one request in, one screen out, for every channel.

For each request it reads the session (one round trip), runs the pure engine,
writes the new state (one pipelined round trip), then hands the engine's effects
to the effect handler. The write comes before the effects, so a replayed request
finds the stored reply and repeats no effect.

Failure policy: nothing a caller sends, and no store outage, makes this raise. A
store that cannot be reached gives a polite closing screen in the caller's language
(the ``unavailable`` navigation word); the next request tries the store again.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import structlog

from gateway.menu.effect_port import Caller, EffectHandler
from gateway.menu.engine import RESUME_SCREEN, ROAMER_SCREEN, SessionState, StepResult
from gateway.menu.memo import EngineMemo
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.services import ServiceDown
from gateway.observability.logs import info_line
from gateway.privacy.numbers import PhoneHasher
from gateway.privacy.phone_numbers import country_of
from gateway.ussd.networks import country_from_network
from gateway.ussd.sessions import (
    Conflict,
    SessionRecord,
    SessionStore,
    SessionStoreError,
    SessionWrite,
)
from gateway.ussd.types import USSDReply, USSDRequest, newest_input

# The screen ids of the polite "service busy" answer: the session store was away, or
# the service hit a bug. Both reach the metrics as outcome="error".
UNAVAILABLE_SCREEN = "__unavailable__"
FAULT_SCREEN = "__fault__"
# The code belongs to a service whose tree is down (its file did not validate).
SERVICE_DOWN_SCREEN = "__service_down__"

log = structlog.get_logger("gateway.ussd")
COMMIT_ATTEMPTS = 4
KEYS_REMEMBERED = 65_536  # sessions whose keys a worker remembers


@dataclass
class USSDStats:
    """What only the service sees: requests answered from a replay, and commits that
    found the session moved on by another worker. Requests, sessions and screens are
    counted by the observers (``/metrics``)."""

    replays: int = 0
    conflicts: int = 0


@dataclass(frozen=True)
class ServiceOptions:
    limit: Limit = field(default_factory=Limit)
    session_ttl: int = 180
    resume_window: int = 120


class USSDService:
    """Answers :class:`USSDRequest` values; implements :class:`USSDHandler`."""

    def __init__(
        self,
        tree: Callable[[], Tree],
        store: SessionStore,
        hasher: PhoneHasher,
        effects: EffectHandler,
        options: ServiceOptions | None = None,
        observers: list[Callable[[USSDRequest, USSDReply, float, str], None]] | None = None,
        route: Callable[[str], Tree] | None = None,
        service_key: Callable[[Tree], str] | None = None,
    ) -> None:
        self._tree = tree
        # Several services on one gateway: the tree for the code a request came on, and
        # the store key of its service (subscriptions are the service's own).
        self._route = route
        self._service_key = service_key or (lambda tree: "")
        self._store = store
        self._hasher = hasher
        self._effects = effects
        self._options = options or ServiceOptions()
        self.stats = USSDStats()
        self.observers = observers or []
        self._engine = EngineMemo()
        # A session's requests (about six) share its keys: two keyed hashes, taken once
        # a session rather than on every request. In memory only, bounded.
        self._keys = lru_cache(maxsize=KEYS_REMEMBERED)(self._keys_of)

    def _keys_of(self, msisdn: str, session_id: str, channel: str) -> tuple[str, str]:
        caller_key = self._hasher.hash(msisdn, "caller")
        return caller_key, self.session_key(session_id, channel, caller_key)

    def session_key(self, session_id: str, channel: str, caller_key: str) -> str:
        """Where a session is stored. A session belongs to its caller: the same session
        id from another number is another session (it cannot continue, or read,
        someone else's)."""
        return self._hasher.session(session_id, channel, caller_key)

    async def handle(self, request: USSDRequest) -> USSDReply:
        began = time.perf_counter()
        caller_key, session_key = self._keys(request.msisdn, request.session_id, request.channel)
        try:
            tree = self._route(request.service_code) if self._route is not None else self._tree()
        except ServiceDown as down:
            # Its file did not validate: a polite closing screen, never another menu.
            reply = USSDReply(
                self._tree().nav("unavailable", self._tree().fallback_language),
                True,
                SERVICE_DOWN_SCREEN,
            )
            log.warning("ussd.service_down", channel=request.channel, service=down.tree_id)
            for observer in self.observers:
                observer(request, reply, time.perf_counter() - began, down.tree_id)
            return reply
        if tree.service_codes:
            # A service of its own keeps its callers' language and resume point apart.
            caller_key = self._hasher.hash(request.msisdn, f"caller:{tree.id}")
        try:
            reply, effects_ran = await self._answer(tree, request, session_key, caller_key)
        except SessionStoreError as exc:
            log.warning("ussd.store_unavailable", error=str(exc), session=session_key[:12])
            reply, effects_ran = self._unavailable(tree), 0
        except Exception as exc:  # a bug: the handset still gets a polite screen, counted
            log.error("ussd.unexpected_error", error=type(exc).__name__, session=session_key[:12])
            reply, effects_ran = self._unavailable(tree, FAULT_SCREEN), 0
        elapsed = time.perf_counter() - began
        info_line(
            log,
            "ussd.request",
            channel=request.channel,
            session=session_key[:12],
            screen=reply.screen_id,
            end=reply.end,
            effects=effects_ran,
            latency_ms=round(elapsed * 1000, 2),
        )
        for observer in self.observers:
            observer(request, reply, elapsed, tree.id)
        return reply

    async def _answer(
        self, tree: Tree, request: USSDRequest, session_key: str, caller_key: str
    ) -> tuple[USSDReply, int]:
        record = self._store.cached(session_key)
        # With no record here, compute from the caller's context as this worker last
        # knew it (none for a caller it does not know); the commit refuses that if the
        # stored context differs, and says what it is.
        context_read = record is not None
        resume: SessionState | None = None
        language: str | None = None
        if record is None:
            resume, language = self._store.context(caller_key)
        for _ in range(COMMIT_ATTEMPTS):
            if (
                record is not None
                # AT's first request has an empty text: a re-sent one is a replay too.
                and (request.replay_key or request.cumulative)
                and record.replay_key == request.replay_key
            ):
                self.stats.replays += 1
                return record.reply, 0
            result = self._run(tree, request, record, resume, language)
            reply = USSDReply(result.display.text, result.display.end, result.display.screen_id)
            write = SessionWrite(
                session_key=session_key,
                caller_key=caller_key,
                record=SessionRecord(
                    result.state, request.replay_key, reply, (record.hops + 1) if record else 1
                ),
                resume=_resume_point(tree, result),
                language=_language_to_remember(record, language, result),
                session_ttl=self._options.session_ttl,
                resume_ttl=self._options.resume_window,
                assumes_no_context=not context_read,
                assumed_resume=resume,
                assumed_language=language,
            )
            try:
                await self._store.commit(write)
                break
            except Conflict as conflict:  # the session or the caller's context differs: redo
                if conflict.current is not None and record is not None:
                    self.stats.conflicts += 1  # another worker moved the session on
                record, resume, language = (
                    conflict.view.session,
                    conflict.view.resume,
                    conflict.view.language,
                )
                context_read = True
        else:
            raise SessionStoreError("the session kept changing underneath")
        if result.effects:
            caller = Caller(
                msisdn=request.msisdn,
                msisdn_hash=self._hasher.hash(request.msisdn),
                channel=request.channel,
                network_code=request.network_code,
                service=self._service_key(tree),
            )
            try:
                await self._effects.handle(caller, result.effects)
            except Exception as exc:  # an effect's failure must not cost the caller the screen
                log.error("ussd.effect_failed", error=type(exc).__name__, session=session_key[:12])
        return reply, len(result.effects)

    def _run(
        self,
        tree: Tree,
        request: USSDRequest,
        record: SessionRecord | None,
        resume: SessionState | None,
        language: str | None,
    ) -> StepResult:
        limit = self._options.limit
        if request.cumulative:
            previous = record.replay_key if record is not None else None
            inputs = newest_input(request.user_input or "", previous)
        else:
            inputs = [] if request.user_input is None else [request.user_input]
        if record is None or (not request.cumulative and request.user_input is None):
            result = self._engine.start(
                tree,
                language=request.language or language,
                country=request.country or country_from_network(request.network_code),
                resume=resume,
                limit=limit,
                home=country_of(request.msisdn),
            )
        else:
            result = self._engine.step(tree, record.state, inputs.pop(0) if inputs else "", limit)
        if not inputs:  # one input, as nearly every request brings: nothing to gather
            return result
        effects = list(result.effects)
        chose_language = result.chose_language
        for extra in inputs:  # a dial string that carried several inputs at once
            if result.display.end:
                break
            result = self._engine.step(tree, result.state, extra, limit)
            effects += result.effects
            chose_language = chose_language or result.chose_language
        if len(effects) != len(result.effects) or chose_language != result.chose_language:
            result = StepResult(
                result.display,
                result.state,
                tuple(effects),
                result.quick_exit,
                result.accepted,
                chose_language,
            )
        return result

    def _unavailable(self, tree: Tree, screen_id: str = UNAVAILABLE_SCREEN) -> USSDReply:
        return USSDReply(tree.nav("unavailable", tree.fallback_language), True, screen_id)

    async def session_record(
        self, session_id: str, channel: str, msisdn: str
    ) -> SessionRecord | None:
        """A session as stored: its last screen and its state (the voice channel repeats
        the screen and picks the recording's language from it)."""
        caller_key = self._hasher.hash(msisdn, "caller")
        return await self._store.session(self.session_key(session_id, channel, caller_key))

    async def session_screen(self, session_id: str, channel: str, msisdn: str) -> str | None:
        """The last screen of a session, for aggregate drop-off counts at its end."""
        caller_key = self._hasher.hash(msisdn, "caller")
        record = await self._store.session(self.session_key(session_id, channel, caller_key))
        return record.reply.screen_id if record else None


def _resume_point(tree: Tree, result: StepResult) -> SessionState | None:
    """Where a redial within the resume window may continue, or None.

    Nothing after a closing screen or a quick exit; nothing on the first screens
    (starting again leads there anyway); a caller who drops on the resume prompt
    keeps the point they were offered.
    """
    state = result.state
    if result.display.end or result.quick_exit:
        return None
    if state.screen == RESUME_SCREEN:
        return state.resume
    if state.screen in (tree.start, tree.home, ROAMER_SCREEN) and state.page == 0:
        return None
    return state


def _language_to_remember(
    record: SessionRecord | None, known: str | None, result: StepResult
) -> str:
    """The language to remember for the caller after this step, or "" to leave it.

    Remembered: a language the caller chose (on a language screen), and, on a
    session's first request, the one already remembered (its 30 days start again).
    A new caller who has not chosen yet has nothing remembered: they see the language
    menu again next time.
    """
    if result.chose_language:
        return result.state.language
    if record is None and known is not None:
        return known
    return ""
