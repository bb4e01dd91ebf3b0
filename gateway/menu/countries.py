"""Countries in the caller's own words: names, codes and dialling codes to ISO alpha-2.

Pure (the data comes from libraries and the tree; no I/O). A caller types a country
the way they say it: ``Italia``, ``Italie``, ``ايطاليا``, ``UK``, ``DRC``,
``Soomaaliya``, ``+39``. The index holds, for every country:

- its ISO 3166 alpha-2 and alpha-3 codes (``IT``, ``ITA``) and pycountry's names;
- its name in every language of the tree (CLDR, through Babel);
- its names in its own official languages (endonyms: ``Italia``, ``Deutschland``);
- the operators' aliases (``content/country-aliases.yaml``: ``UK``, ``Ivory Coast``),
  which win over everything else;
- its international dialling code (``39``, ``+39``, ``0039``): digits are never read as
  ISO numeric codes, which callers do not know (``380`` is Ukraine's dialling code).

Names are compared folded: case, accents, Arabic letter variants (hamza on alef, alef
maqsura, ta marbuta, tatweel), spaces and punctuation do not matter.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

import pycountry

from gateway.privacy.phone_numbers import ascii_digits

_ARABIC_FOLD = str.maketrans(
    {"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي", "ة": "ه", "ـ": None, "ؤ": "و", "ئ": "ي"}
)
_LEADING_WORDS = ("the ",)
MAX_LENGTH = 60


def fold(name: str) -> str:
    """A spelling-insensitive key: ``Côte d'Ivoire`` and ``cote divoire`` fold alike."""
    text = unicodedata.normalize("NFKD", name.strip().casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    for word in _LEADING_WORDS:
        if text.startswith(word):
            text = text[len(word) :]
    text = text.translate(_ARABIC_FOLD)
    return "".join(char for char in text if char.isalnum())


@lru_cache(maxsize=64)
def _locale(language: str) -> Any:
    """Babel's locale for ``language`` (imported on first use: only processes that
    show or read country names pay for it), or None."""
    from babel import Locale, UnknownLocaleError

    try:
        return Locale.parse(language.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return None


def _alpha2_codes() -> tuple[str, ...]:
    return tuple(sorted(str(country.alpha_2) for country in pycountry.countries))


@lru_cache(maxsize=4096)
def country_name(code: str, language: str) -> str:
    """The country's name in ``language`` (CLDR), else its English name, else the code."""
    locale = _locale(language)
    if locale is not None:
        name = locale.territories.get(code)
        if name:
            return str(name)
    country = pycountry.countries.get(alpha_2=code)
    return str(country.name) if country is not None else code


def _add(index: dict[str, str], name: str, code: str) -> None:
    key = fold(name)
    if key and key not in index:  # the first source to claim a name keeps it
        index[key] = code


@lru_cache(maxsize=16)
def country_index(
    languages: tuple[str, ...], aliases: tuple[tuple[str, str], ...] = ()
) -> dict[str, str]:
    """Folded name or code -> alpha-2, for a tree's languages and operators' aliases.

    Sources in order of precedence: aliases, codes, names in the tree's languages,
    endonyms, pycountry's English names. Built once per process and tree shape."""
    index: dict[str, str] = {}
    codes = _alpha2_codes()
    for alias, code in aliases:
        _add(index, alias, code)
    for code in codes:
        _add(index, code, code)
        country = pycountry.countries.get(alpha_2=code)
        if country is not None:
            _add(index, str(country.alpha_3), code)
    for language in (*languages, "en"):
        locale = _locale(language)
        if locale is None:
            continue
        for code in codes:
            name = locale.territories.get(code)
            if name:
                _add(index, str(name), code)
    from babel.languages import get_official_languages

    for code in codes:
        for language in get_official_languages(code, de_facto=True):
            locale = _locale(language)
            name = locale.territories.get(code) if locale is not None else None
            if name:
                _add(index, str(name), code)
    for country in pycountry.countries:
        for attribute in ("name", "official_name", "common_name"):
            value = getattr(country, attribute, None)
            if value:
                _add(index, str(value), str(country.alpha_2))
    return index


def _dialling_code(raw: str) -> str | None:
    import phonenumbers

    digits = raw.replace(" ", "")
    if digits.startswith("+"):
        digits = digits[1:]
    elif digits.startswith("00"):
        digits = digits[2:]
    if not (digits.isascii() and digits.isdigit()) or not 1 <= len(digits) <= 3:
        return None
    region = phonenumbers.region_code_for_country_code(int(digits))
    if region in ("ZZ", "001"):  # unassigned, or a non-geographic service
        return None
    return str(region)


def country_code(
    raw: str, languages: tuple[str, ...] = (), aliases: tuple[tuple[str, str], ...] = ()
) -> str | None:
    """ISO 3166 alpha-2 for a country as a caller typed it, or None."""
    cleaned = ascii_digits(unicodedata.normalize("NFKC", raw)).strip()
    if not cleaned or len(cleaned) > MAX_LENGTH:
        return None
    if any(char.isdigit() for char in cleaned):
        return _dialling_code(cleaned)
    return country_index(languages, aliases).get(fold(cleaned))
