"""The SMS dialect of the menu: a screen becomes one SMS, a reply becomes engine input.

Pure: no I/O, no clock. The menu engine paginates every screen to a :class:`Limit`;
for SMS that limit is what ``parts`` SMS carry (one part: 160 GSM-7 septets or 70
UCS-2 characters; concatenated: 153 or 67 per part), so the same pages, footers and
``98 More`` that USSD shows fit in the SMS the caller pays nothing to receive, and
nothing is ever cut by the network. :func:`sms_text` is the last guard: a screen that
is not paginated (an input's error text, say) is cut to fit, never inside an escape
or a surrogate pair.

A reply is read leniently: handsets in Arabic, Persian or Devanagari locales type
their own digits (``١`` for ``1``), people add spaces or a full stop, and a few type
``#`` after the number as they would on USSD. :func:`menu_input` turns all of these
into the ASCII option key the engine expects.
"""

from __future__ import annotations

import unicodedata

from gateway.errors import GatewayError
from gateway.menu.pages import Limit
from gateway.sms.encoding import Alphabet, alphabet_for, length_in, split_to_fit

MIN_PARTS = 1
MAX_PARTS = 3
SINGLE_SMS = {Alphabet.GSM7: 160, Alphabet.UCS2: 70}
PER_PART = {Alphabet.GSM7: 153, Alphabet.UCS2: 67}
_EDGE = " \t\r\n.,;:!?\"'()[]{}<>-_*#،؛؟۔"


class SMSMenuSettingError(GatewayError, ValueError):
    """A number of SMS parts per screen outside 1-3."""


def capacity(alphabet: Alphabet, parts: int) -> int:
    """Units ``parts`` SMS carry in ``alphabet`` (septets or UTF-16 code units)."""
    _check_parts(parts)
    return SINGLE_SMS[alphabet] if parts == 1 else PER_PART[alphabet] * parts


def menu_limit(parts: int) -> Limit:
    """The engine's page limit for screens of at most ``parts`` SMS.

    A :class:`Limit` is given in septets and grants UCS-2 screens the same octets: 160
    septets give 70 UCS-2 characters (exactly one SMS); 306 and 459 give 134 and 201,
    what two and three concatenated parts carry.
    """
    return Limit(capacity(Alphabet.GSM7, parts))


def sms_text(screen: str, parts: int) -> str:
    """The SMS that shows ``screen``: the screen itself, cut if it would need more parts."""
    alphabet = alphabet_for(screen)
    room = capacity(alphabet, parts)
    if length_in(screen, alphabet) <= room:
        return screen
    head, _ = split_to_fit(screen, room, alphabet)
    return head.rstrip(" \n")


def parts_needed(text: str) -> int:
    """How many SMS carry ``text`` (1 for an empty one)."""
    alphabet = alphabet_for(text)
    length = length_in(text, alphabet)
    if length <= SINGLE_SMS[alphabet]:
        return 1
    return -(-length // PER_PART[alphabet])


def menu_input(reply: str) -> str:
    """The engine input an SMS reply means: any script's digits as ASCII, edges trimmed.

    ``" ١ "`` -> ``"1"``, ``"2."`` -> ``"2"``, ``"00#"`` -> ``"00"``, ``"٩٩"`` -> ``"99"``.
    Text that is not a number (an input screen's country name) keeps its letters and
    inner spaces, with its width and compatibility forms folded (NFKC).
    """
    folded = unicodedata.normalize("NFKC", reply)
    while (trimmed := folded.strip().strip(_EDGE)) != folded:
        folded = trimmed
    return "".join(_ascii_digit(char) for char in folded)


def _ascii_digit(char: str) -> str:
    value = unicodedata.decimal(char, None)
    return str(value) if value is not None else char


def _check_parts(parts: int) -> None:
    if not MIN_PARTS <= parts <= MAX_PARTS:
        raise SMSMenuSettingError(f"SMS parts per menu screen must be 1-3, not {parts}")
