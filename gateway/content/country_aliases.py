"""The operators' country aliases (``content/country-aliases.yaml``).

A mapping from an ISO 3166 alpha-2 code to the words callers type for that country
and that the standard lists miss (``UK``, ``Ivory Coast``, ``DRC``). Parsed by a
declared shape: an unknown code or a value that is not a list of words is refused
with the file and line.
"""

from __future__ import annotations

from pathlib import Path

import pycountry

from gateway.content.catalog import ContentError
from gateway.content.safe_yaml import YAMLRefused, read_yaml_text

ALIASES_FILE = "country-aliases.yaml"
CountryAliases = tuple[tuple[str, str], ...]  # (alias, alpha-2), in file order


def load_country_aliases(directory: Path) -> CountryAliases:
    """The aliases in ``directory``; none when the file is absent."""
    path = directory / ALIASES_FILE
    if not path.is_file():
        return ()
    return parse_country_aliases(path.read_text(encoding="utf-8"), str(path))


def parse_country_aliases(text: str, source: str) -> CountryAliases:
    try:
        document = read_yaml_text(text, source)
    except YAMLRefused as exc:
        raise ContentError(str(exc)) from exc
    data = document.data
    if data is None:
        return ()
    if not isinstance(data, dict):
        raise ContentError(f"{source}:1: country aliases must map alpha-2 codes to lists")
    aliases: list[tuple[str, str]] = []
    for key, words in data.items():
        where = f"{source}:{document.line_of((str(key),))}"
        code = str(key).strip().upper()
        if len(code) != 2 or pycountry.countries.get(alpha_2=code) is None:
            raise ContentError(f"{where}: {key!r} is not an ISO 3166 alpha-2 code")
        if not isinstance(words, list) or not all(
            isinstance(word, str | int) and str(word).strip() for word in words
        ):
            raise ContentError(f"{where}: {code} must list the words callers type, e.g. [UK]")
        aliases += [(str(word).strip(), code) for word in words]
    return tuple(aliases)
