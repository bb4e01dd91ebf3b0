"""Africa's Talking Voice as a dialect of the menu: a screen in, call-control XML out.

Pure: no I/O, no clock. AT posts a form to the number's callback URL (``isActive``,
``sessionId``, ``callerNumber``, ``direction``, ``dtmfDigits`` after a ``GetDigits``)
and reads XML actions from the answer (``docs.africastalking.com/voice``):

- ``<Say voice="woman|man">text</Say>``: AT's text-to-speech; its documented
  attributes are ``voice`` (``man``/``woman``) and ``playBeep``, with no language, so
  which languages it reads well is a setting (``GATEWAY_VOICE_SAY_LANGUAGES``, ``en``
  by default). Every other language is *played*:
- ``<Play url="..."/>``: a recording an operator made of that screen in that language,
  served by the gateway.
- ``<GetDigits numDigits timeout finishOnKey callbackUrl>`` around the prompt: AT
  reads or plays it, then posts the keys pressed (``dtmfDigits``).

A choice is one or two keys (``numDigits="2"``, ``finishOnKey="#"``): two keys
arrive at once (``10``, ``12``, the ``99`` quick exit, ``00`` home), one key is ended
by ``#`` (``1#``, ``0#`` back), read with or without the ``#`` AT may pass on. The repeat key
(``*#``) says the screen again, and so does a ``#`` alone or a timeout with no key (AT
posts no digits; on a call already under way that is never a new start). An input
screen (a country by its dialling code, say) takes any number of keys ended by ``#``.

Spoken text reads every number of two or more digits digit by digit ("116 000" is
"1 1 6, 0 0 0"): a hotline read as "one hundred and sixteen thousand" cannot be
dialled. XML is built with :mod:`xml.etree.ElementTree`, which escapes ``<``, ``&``
and quotes, never by joining strings.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from enum import Enum

from gateway.errors import GatewayError

QUICK_EXIT_INPUT = "99"
BACK_INPUT = "0"
CHOICE_DIGITS = 2  # options 10 and above, 00 and 99 are two keys
WORDS_PER_SECOND = 2.5  # text-to-speech at about 150 words a minute
_NUMBER = re.compile(r"\d{2,}")
_SENTENCE_END = ".!?:;،؟۔"


class VoiceFormError(GatewayError, ValueError):
    """A voice callback without a session id: not something AT sends."""


@dataclass(frozen=True)
class VoiceCall:
    """One callback from AT Voice. ``caller`` is kept out of repr (never logged)."""

    session_id: str
    active: bool
    caller: str = ""
    direction: str = ""
    digits: str = ""  # what the caller pressed, "" on the call's first request
    destination: str = ""  # the number called: picks the service (gateway.menu.services)

    def __repr__(self) -> str:
        return f"VoiceCall(session_id=..., active={self.active}, digits={self.digits!r})"


class KeyMeaning(Enum):
    START = "start"  # no keys yet: the call's first screen
    REPEAT = "repeat"  # say the current screen again
    INPUT = "input"  # hand ``VoiceKey.input`` to the engine


@dataclass(frozen=True)
class VoiceKey:
    meaning: KeyMeaning
    input: str = ""


@dataclass(frozen=True)
class VoiceOptions:
    say_voice: str = "woman"
    timeout: int = 10  # seconds GetDigits waits for a key
    repeat_key: str = "*"
    exit_key: str = QUICK_EXIT_INPUT  # "99", as on USSD; a setting may add "9" or "*"
    finish_key: str = "#"  # ends a choice of one key, or an input
    callback_url: str = field(default="", repr=False)  # may hold ?key=; "" = the number's URL


@dataclass(frozen=True)
class VoiceScreen:
    text: str  # what to say (already without the USSD footer)
    end: bool  # a closing screen: say it and let the call end
    recording_url: str = ""  # play this instead of saying ``text``
    free_input: bool = False  # an input screen: several keys, ended by ``#``


def parse_voice_form(form: dict[str, str]) -> VoiceCall:
    session_id = form.get("sessionId", "").strip()
    if not session_id:
        raise VoiceFormError("sessionId is missing")
    return VoiceCall(
        session_id=session_id[:128],
        active=form.get("isActive", "1").strip() != "0",
        caller=form.get("callerNumber", "").strip()[:32],
        direction=form.get("direction", "").strip()[:16],
        digits=form.get("dtmfDigits", "").strip()[:32],
        destination=form.get("destinationNumber", "").strip()[:32],
    )


def key_meaning(digits: str, options: VoiceOptions, *, started: bool = False) -> VoiceKey:
    """What the keys pressed ask the menu for. ``started``: the call already has a
    session, so no keys (a ``#`` alone, a timeout) repeat the screen."""
    keys = digits.strip().rstrip(options.finish_key)
    if not keys:
        return VoiceKey(KeyMeaning.REPEAT if started else KeyMeaning.START)
    if keys == options.repeat_key:
        return VoiceKey(KeyMeaning.REPEAT)
    if keys in (options.exit_key, QUICK_EXIT_INPUT):
        return VoiceKey(KeyMeaning.INPUT, QUICK_EXIT_INPUT)
    return VoiceKey(KeyMeaning.INPUT, keys.rstrip("*#"))


def spoken(text: str) -> str:
    """``text`` as it should be read aloud: numbers digit by digit, lines as sentences."""
    sentences = []
    for line in text.splitlines():
        line = _NUMBER.sub(lambda match: " ".join(match.group()), line.strip())
        if not line:
            continue
        sentences.append(line if line[-1] in _SENTENCE_END else f"{line}.")
    return " ".join(sentences)


def spoken_seconds(text: str) -> float:
    """About how long AT's text-to-speech takes to read ``text``."""
    return len(spoken(text).split()) / WORDS_PER_SECOND


def render(screen: VoiceScreen, options: VoiceOptions) -> str:
    """The XML answer to one voice callback."""
    response = ET.Element("Response")
    if screen.end:
        _prompt(response, screen, options)
    else:
        attributes = {"timeout": str(options.timeout), "finishOnKey": options.finish_key}
        if not screen.free_input:
            attributes["numDigits"] = str(CHOICE_DIGITS)
        if options.callback_url:
            attributes["callbackUrl"] = options.callback_url
        get_digits = ET.SubElement(response, "GetDigits", attributes)
        _prompt(get_digits, screen, options)
    return ET.tostring(response, encoding="unicode", xml_declaration=False)


def hang_up() -> str:
    """The answer to AT's last request of a call (``isActive=0``): nothing more to do."""
    return ET.tostring(ET.Element("Response"), encoding="unicode")


def _prompt(parent: ET.Element, screen: VoiceScreen, options: VoiceOptions) -> None:
    if screen.recording_url:
        ET.SubElement(parent, "Play", {"url": screen.recording_url})
    else:
        say = ET.SubElement(parent, "Say", {"voice": options.say_voice})
        say.text = spoken(screen.text)
