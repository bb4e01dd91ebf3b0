"""Every phone number that enters the gateway, parsed to E.164: one person, one identity.

Channels write numbers their own way: Africa's Talking sends ``+254711000001``; an
SMSC may send ``254711000001`` (international, no plus), ``0711000001`` (national)
or a handset's own digits (``+٢٥٤٧...``, Arabic-Indic). Keyed hashes taken over
such strings would make one person several people, and a STOP sent one way would
miss a subscription made the other. So every channel adapter (AT USSD, SMS and
opt-out callbacks, SMPP MO and USSD, the CLI) turns a number into E.164 here,
with ``phonenumbers``, before anything hashes, seals or answers it:

- any Unicode decimal digit is folded to ASCII first;
- a national form is resolved with the country the channel knows (AT: the
  network's MCC; SMPP: the SMSC's ``default_country``), an SMPP ``source_addr_ton``
  of 1 (international) reads the digits as international;
- a number is accepted when its length is possible for its country: validity
  ranges age faster than the library, and locking a real caller out of a safety
  service is worse than accepting a number from a new range.

A number that cannot be read is rejected with a counted log line that holds no
number (``phone_number.invalid``, ``gateway_invalid_numbers_total`` by channel).
Parsing costs tens of microseconds: results are remembered per process.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from functools import lru_cache

import structlog

log = structlog.get_logger(__name__)

MAX_RAW = 40  # nothing longer is a phone number
TON_INTERNATIONAL = 1
TON_NATIONAL = 2


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit (Arabic-Indic, Devanagari, full-width,
    ...) replaced by its ASCII digit; other characters are kept."""
    if text.isascii():
        return text
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in text)


@lru_cache(maxsize=65_536)
def to_e164(raw: str, country: str = "") -> str | None:
    """``raw`` as E.164 (``+254711000001``), or None when it is not a phone number.

    ``country`` (ISO 3166 alpha-2) resolves a national form; without it, digits with
    no ``+`` are read as international.
    """
    import phonenumbers  # on first use: worker processes that never parse skip its import

    text = ascii_digits(unicodedata.normalize("NFKC", raw)).strip()
    if not text or len(text) > MAX_RAW:
        return None
    if text.startswith("00") and not country:
        text = "+" + text[2:]
    region = country.upper() if country else None
    if not text.startswith("+") and region is None:
        text = "+" + text
    try:
        number = phonenumbers.parse(text, None if text.startswith("+") else region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    e164 = str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    if len(_regions) >= REGIONS_REMEMBERED:
        _regions.clear()
    _regions[e164] = _region(phonenumbers.region_code_for_number(number))
    return e164


# The country of each number :func:`to_e164` read, taken from that same parse: a new
# caller's first screen needs it (:func:`country_of`), which then parses nothing again.
REGIONS_REMEMBERED = 65_536
_regions: dict[str, str] = {}


def _region(region: str | None) -> str:
    return "" if region in (None, "ZZ", "001") else str(region)


def smpp_e164(address: str, ton: int, default_country: str) -> str | None:
    """An SMPP address as E.164, read by its type of number (TON)."""
    if ton == TON_INTERNATIONAL and not address.startswith("+"):
        return to_e164("+" + ascii_digits(address).lstrip("+"))
    return to_e164(address, default_country)


def country_of(e164: str) -> str:
    """The ISO 3166 alpha-2 country of an E.164 number, or "" (non-geographic)."""
    region = _regions.get(e164)
    return region if region is not None else parsed_country(e164)


@lru_cache(maxsize=65_536)
def parsed_country(e164: str) -> str:
    """:func:`country_of` by parsing ``e164`` (a number :func:`to_e164` did not read)."""
    import phonenumbers

    try:
        return _region(phonenumbers.region_code_for_number(phonenumbers.parse(e164, None)))
    except phonenumbers.NumberParseException:
        return ""


class Rejections:
    """Numbers refused, counted by channel (read by ``/metrics``); never the number."""

    def __init__(self) -> None:
        self.by_channel: Counter[str] = Counter()

    def reject(self, channel: str, where: str) -> None:
        self.by_channel[channel] += 1
        log.warning("phone_number.invalid", channel=channel, where=where)


# One tally per process: every channel adapter reports here, every app's /metrics
# reads it (counts only).
REJECTIONS = Rejections()


def e164_or_reject(raw: str, country: str, channel: str, where: str) -> str | None:
    """:func:`to_e164`, with a refusal counted and logged (without the number)."""
    number = to_e164(raw, country)
    if number is None:
        REJECTIONS.reject(channel, where)
    return number
