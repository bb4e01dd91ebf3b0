"""Content catalogs: hotlines, safe-route alerts, trafficking warnings.

One YAML file per catalog in ``content/``. Every entry carries a ``source`` and a
``last_verified`` date: information without them is not trusted, so the loader
refuses it. Translations that a machine drafted are marked ``review: needed`` per
language, and a catalog of sample data says so (``sample: true``) so nobody mistakes
it for verified data.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import GatewayError

ANY_COUNTRY = "*"


class ContentError(GatewayError, ValueError):
    """A catalog file is malformed; the message names the file and entry."""


@dataclass(frozen=True)
class Entry:
    id: str
    title: Mapping[str, str]
    text: Mapping[str, str]
    source: str
    last_verified: dt.date
    countries: tuple[str, ...] = (ANY_COUNTRY,)
    number: str = ""
    needs_review: tuple[str, ...] = ()  # languages whose translation awaits a reviewer
    line: int = 0

    def serves(self, country: str) -> bool:
        return ANY_COUNTRY in self.countries or country in self.countries


@dataclass(frozen=True)
class Catalog:
    kind: str
    entries: tuple[Entry, ...]
    sample: bool = False
    notice: str = ""
    source_file: str = ""
    by_id: Mapping[str, Entry] = field(default_factory=dict, compare=False, repr=False)

    def for_country(self, country: str) -> tuple[Entry, ...]:
        """The caller's country first, then entries that serve everywhere."""
        own = tuple(e for e in self.entries if country and country in e.countries)
        everywhere = tuple(e for e in self.entries if ANY_COUNTRY in e.countries and e not in own)
        return own + everywhere

    def stale(self, today: dt.date, max_age_days: int) -> tuple[Entry, ...]:
        limit = today - dt.timedelta(days=max_age_days)
        return tuple(e for e in self.entries if e.last_verified < limit)


def load_catalogs(directory: Path) -> dict[str, Catalog]:
    """Every ``*.yaml`` catalog under ``directory`` that has a ``kind`` and ``entries``."""
    catalogs: dict[str, Catalog] = {}
    if not directory.is_dir():
        return catalogs
    for path in sorted(directory.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        data = _safe_yaml(text, path)
        if not isinstance(data, dict) or "entries" not in data or "kind" not in data:
            continue  # not a catalog (keywords, topics: read by their own modules)
        catalog = parse_catalog(data, str(path), _entry_lines(text))
        if catalog.kind in catalogs:
            raise ContentError(f"{path}: catalog kind {catalog.kind!r} defined twice")
        catalogs[catalog.kind] = catalog
    return catalogs


def _safe_yaml(text: str, path: Path) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ContentError(f"{path}: not valid YAML: {exc}") from exc


def _entry_lines(text: str) -> list[int]:
    root = yaml.compose(text)
    if not isinstance(root, yaml.MappingNode):
        return []
    for key, value in root.value:
        if key.value == "entries" and isinstance(value, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in value.value]
    return []


def parse_catalog(data: Mapping[str, Any], source: str, lines: list[int]) -> Catalog:
    entries: list[Entry] = []
    raw_entries = data.get("entries") or []
    if not isinstance(raw_entries, list):
        raise ContentError(f"{source}: 'entries' must be a list")
    for index, raw in enumerate(raw_entries):
        line = lines[index] if index < len(lines) else 0
        entries.append(_parse_entry(raw, f"{source}:{line}", line))
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen:
            raise ContentError(f"{source}:{entry.line}: duplicate entry id {entry.id!r}")
        seen[entry.id] = entry
    return Catalog(
        kind=str(data["kind"]),
        entries=tuple(entries),
        sample=bool(data.get("sample", False)),
        notice=str(data.get("notice", "")),
        source_file=source,
        by_id=seen,
    )


def _texts(raw: Any, where: str, name: str) -> dict[str, str]:
    if isinstance(raw, str):
        return {"en": raw}
    if not isinstance(raw, dict) or not raw:
        raise ContentError(f"{where}: {name!r} must map language codes to text")
    return {str(lang): str(value).strip() for lang, value in raw.items()}


def _parse_entry(raw: Any, where: str, line: int) -> Entry:
    if not isinstance(raw, dict):
        raise ContentError(f"{where}: an entry must be a mapping")
    for required in ("id", "text", "source", "last_verified"):
        if not raw.get(required):
            raise ContentError(f"{where}: entry lacks {required!r} (every entry needs it)")
    verified = raw["last_verified"]
    if isinstance(verified, str):
        try:
            verified = dt.date.fromisoformat(verified)
        except ValueError as exc:
            raise ContentError(f"{where}: last_verified must be YYYY-MM-DD") from exc
    if not isinstance(verified, dt.date):
        raise ContentError(f"{where}: last_verified must be YYYY-MM-DD")
    countries = raw.get("countries", [ANY_COUNTRY])
    if isinstance(countries, str):
        countries = [countries]
    review = raw.get("review") or {}
    needs_review = tuple(sorted(lang for lang, state in review.items() if state == "needed"))
    text = _texts(raw["text"], where, "text")
    return Entry(
        id=str(raw["id"]),
        title=_texts(raw.get("title", text), where, "title"),
        text=text,
        source=str(raw["source"]),
        last_verified=verified,
        countries=tuple(str(c).upper() if c != ANY_COUNTRY else c for c in countries),
        number=str(raw.get("number", "")),
        needs_review=needs_review,
        line=line,
    )
