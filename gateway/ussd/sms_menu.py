"""The menu by SMS: the same tree, one screen per SMS, for callers USSD cannot reach.

A caller texts ``MENU`` (or its translation, ``content/keywords.yaml``) to the
service's number and gets the first screen as an SMS; each reply (an option number,
or ``0``/``00``/``98``/``99`` as on USSD) brings the next one. It runs through a
:class:`USSDService` of its own (channel ``sms``), so the engine, the effects
(subscribe, send details by SMS), the remembered language and the replay guard are
the USSD ones; only the limit (what ``GATEWAY_SMS_MENU_PARTS`` SMS carry, see
:mod:`gateway.sms.menu_dialect`) and the lifetime (``GATEWAY_SMS_MENU_TTL``) differ.

A session is keyed by a keyed hash of the number (an SMS has no session id), in the
same session store as USSD. The inbox asks here only for text that is not a keyword
(STOP, JOIN, HELP, LANG, INFO keep precedence), and a reply outside an open session
is not menu input: it gets the keyword help instead.

Each menu SMS costs the grant and, at some operators, the caller's credit for the
reply they send, so one number gets at most ``GATEWAY_SMS_MENU_PER_MINUTE`` menu SMS
a minute (a window shared by every worker through the session store); past it the
message is recorded but not answered, and the caller's place in the menu does not
move.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import structlog

from gateway.privacy.numbers import PhoneHasher
from gateway.sms.keywords import Command, CommandKind
from gateway.sms.menu_dialect import menu_input, sms_text
from gateway.sms.messages import InboundSMS
from gateway.ussd.service import USSDService
from gateway.ussd.sessions import SessionStore, SessionStoreError
from gateway.ussd.types import USSDRequest

log = structlog.get_logger("gateway.sms_menu")

CHANNEL = "sms"
RATE_WINDOW = 60


class MenuOutcome(Enum):
    SCREEN = "screen"  # a screen to send
    THROTTLED = "throttled"  # over the per-number limit: nothing is sent
    NOT_IN_MENU = "not_in_menu"  # no open menu session: not menu input


@dataclass(frozen=True)
class MenuAnswer:
    outcome: MenuOutcome
    text: str = ""
    screen_id: str = ""


@dataclass(frozen=True)
class SMSMenuOptions:
    parts: int = 1
    per_minute: int = 5
    # The keyword catalog's default language: its MENU word (``MENU``) is shared by
    # several languages, so it opens on the remembered language or the language
    # screen; a MENU word of another language (``قائمة``) opens in that language.
    neutral_language: str = "en"


class SMSMenu:
    def __init__(
        self,
        service: USSDService,
        store: SessionStore,
        hasher: PhoneHasher,
        options: SMSMenuOptions | None = None,
    ) -> None:
        self._service = service
        self._store = store
        self._hasher = hasher
        self._options = options or SMSMenuOptions()

    async def reply(self, message: InboundSMS, command: Command) -> tuple[bool, str | None]:
        """For the inbox: (whether ``message`` was menu traffic, the SMS to send or None)."""
        starts = command.kind is CommandKind.MENU
        language = command.language if command.language != self._options.neutral_language else None
        answer = await self.answer(message, start=starts, language=language)
        if answer.outcome is MenuOutcome.NOT_IN_MENU:
            return False, None
        return True, answer.text or None

    async def answer(
        self, message: InboundSMS, *, start: bool, language: str | None = None
    ) -> MenuAnswer:
        """The SMS that answers ``message``: a new session's first screen when ``start``
        (the caller sent MENU, in ``language`` if the keyword says which), else the
        next screen of their open session."""
        caller = self._hasher.hash(message.sender, "sms-menu")
        try:
            if not start:
                caller_key = self._hasher.hash(message.sender, "caller")
                record = await self._store.session(
                    self._service.session_key(caller, CHANNEL, caller_key)
                )
                if record is None or record.reply.end:
                    return MenuAnswer(MenuOutcome.NOT_IN_MENU)
            hits = await self._store.count_hit(caller, RATE_WINDOW)
        except SessionStoreError as exc:
            log.warning("sms_menu.store_unavailable", error=str(exc))
            hits = 0  # the service answers with its polite "service busy" screen
        if hits > self._options.per_minute:
            log.info("sms_menu.throttled", caller=caller[:12], hits=hits)
            return MenuAnswer(MenuOutcome.THROTTLED)
        reply = await self._service.handle(
            USSDRequest(
                channel=CHANNEL,
                session_id=caller,
                msisdn=message.sender,
                service_code=message.recipient,  # the number texted picks the service
                user_input=None if start else menu_input(message.text),
                replay_key=message.message_id,
                language=language,
                country=message.network_country,  # a roamer is offered the SMS number
            )
        )
        return MenuAnswer(
            MenuOutcome.SCREEN, sms_text(reply.text, self._options.parts), reply.screen_id
        )
