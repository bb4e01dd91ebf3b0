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

from pydantic import ValidationError

from gateway.content.catalog_schema import CatalogSchema
from gateway.content.file_schema import schema_faults
from gateway.content.safe_yaml import YAMLDocument, YAMLPath, YAMLRefused, read_yaml_file
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
    verified_by: str = ""

    def serves(self, country: str) -> bool:
        return ANY_COUNTRY in self.countries or country in self.countries

    @property
    def unverified(self) -> bool:
        """No operator has verified it: ``verified_by`` is absent, or says it is sample
        text or not (yet) verified. A recent ``last_verified`` date alone proves nothing."""
        return never_verified(self.verified_by)


_NOT_VERIFIED_MARKS = ("not yet verified", "never verified", "not verified", "unverified")


def never_verified(verified_by: str) -> bool:
    said = verified_by.strip().lower()
    return not said or said.startswith("sample") or any(m in said for m in _NOT_VERIFIED_MARKS)


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

    def own(self, country: str) -> tuple[Entry, ...]:
        """The entries that name ``country`` itself."""
        return tuple(e for e in self.entries if country and country in e.countries)

    def everywhere(self) -> tuple[Entry, ...]:
        """The entries that serve every country."""
        return tuple(e for e in self.entries if ANY_COUNTRY in e.countries)

    def stale(self, today: dt.date, max_age_days: int) -> tuple[Entry, ...]:
        limit = today - dt.timedelta(days=max_age_days)
        return tuple(e for e in self.entries if e.last_verified < limit)


def load_catalogs(directory: Path) -> dict[str, Catalog]:
    """Every ``*.yaml`` catalog under ``directory`` that has a ``kind`` and ``entries``."""
    catalogs: dict[str, Catalog] = {}
    if not directory.is_dir():
        return catalogs
    for path in sorted(directory.glob("*.yaml")):
        try:
            document = read_yaml_file(path)
        except YAMLRefused as exc:
            raise ContentError(str(exc)) from exc
        data = document.data
        if not isinstance(data, dict) or "entries" not in data or "kind" not in data:
            continue  # not a catalog (keywords, topics: read by their own modules)
        catalog = parse_catalog(data, str(path), document)
        if catalog.kind in catalogs:
            raise ContentError(f"{path}: catalog kind {catalog.kind!r} defined twice")
        catalogs[catalog.kind] = catalog
    return catalogs


def parse_catalog(
    data: Mapping[str, Any], source: str, document: YAMLDocument | None = None
) -> Catalog:
    """A catalog from parsed data; ``document`` (when read from a file) gives lines."""
    located = document or YAMLDocument(source, data)
    try:
        CatalogSchema.model_validate(data)
    except ValidationError as exc:
        faults = schema_faults(exc, located, CatalogSchema)
        raise ContentError(
            "\n".join(
                _located(source, fault.line, fault.path, data, fault.message) for fault in faults
            )
        ) from None
    entries: list[Entry] = []
    raw_entries = data.get("entries") or []
    for index, raw in enumerate(raw_entries):
        line = located.line_of(("entries", index))
        entries.append(_parse_entry(raw, f"{source}:{line}" if line else source, line))
    seen: dict[str, Entry] = {}
    for entry in entries:
        if entry.id in seen:
            raise ContentError(f"{source}:{entry.line}: duplicate entry id {entry.id!r}")
        seen[entry.id] = entry
    return Catalog(
        kind=str(data["kind"]),
        entries=tuple(entries),
        sample=bool(data.get("sample", False)),
        notice=str(data.get("notice") or ""),
        source_file=source,
        by_id=seen,
    )


def _located(source: str, line: int, path: YAMLPath, data: Mapping[str, Any], message: str) -> str:
    """``file:line: entry 'id': message`` (the entry named when it has an id)."""
    where = f"{source}:{line}" if line else source
    if len(path) > 1 and path[0] == "entries" and isinstance(path[1], int):
        raw_entries = data.get("entries")
        raw = raw_entries[path[1]] if isinstance(raw_entries, list) else None
        if isinstance(raw, dict) and raw.get("id"):
            return f"{where}: entry {str(raw['id'])!r}: {message}"
    return f"{where}: {message}"


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
        verified_by=str(raw.get("verified_by") or ""),
    )
