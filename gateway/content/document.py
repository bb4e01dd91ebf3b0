"""All content catalogs as one versioned document: what the store keeps per content version.

A content version is one YAML text mapping each catalog's kind to the catalog exactly
as its file in ``content/`` holds it (``kind``, ``sample``, ``notice``, ``entries``).
The files are the seed and the import/export format; the running gateway reads and
writes versions in the store, never the files.

Everything here is pure: functions take a document (plain dicts) and return a new one.
An edit never deletes what it does not mention: an imported row with only ``text_en``
keeps the entry's other translations, and a missing column keeps the existing value.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gateway.content.catalog import Catalog, ContentError, parse_catalog
from gateway.content.safe_yaml import YAMLDocument, YAMLRefused, dump_yaml, read_yaml_text

# The name content versions carry in the store's versions table; a menu name can never
# take it (menu names start with a letter or digit).
CONTENT_VERSIONS = "~content"


def content_versions_of(service: str) -> str:
    """The name a service's own content versions carry (``~content:work-rights``); the
    default service's (and every service that shares its content): :data:`CONTENT_VERSIONS`."""
    return f"{CONTENT_VERSIONS}:{service}" if service else CONTENT_VERSIONS


# Fields whose value maps a language code to a text: merged per language.
PER_LANGUAGE = ("title", "text", "review")

Document = dict[str, dict[str, Any]]


def read_files(directory: Path) -> Document:
    """The catalogs shipped in ``directory`` (the seed): every ``*.yaml`` with a ``kind``
    and ``entries``. :class:`ContentError` names ``file:line``."""
    document: Document = {}
    if not directory.is_dir():
        return document
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = read_yaml_text(path.read_text(encoding="utf-8"), str(path)).data
        except YAMLRefused as exc:
            raise ContentError(str(exc)) from exc
        if not isinstance(data, dict) or "entries" not in data or "kind" not in data:
            continue  # keywords, topics: read by their own modules
        kind = str(data["kind"])
        if kind in document:
            raise ContentError(f"{path}: catalog kind {kind!r} defined twice")
        document[kind] = _normalise(data)
    return document


def _normalise(data: Mapping[str, Any]) -> dict[str, Any]:
    """Dates as ISO text, so a document compares and dumps the same wherever it came from."""
    out = dict(data)
    entries = []
    for entry in data.get("entries") or []:
        if isinstance(entry, dict):
            entry = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in entry.items()}
        entries.append(entry)
    out["entries"] = entries
    return out


def dump(document: Document) -> str:
    return dump_yaml(document)


def parse(text: str, source: str) -> Document:
    """A stored or imported document. :class:`ContentError` names the line."""
    try:
        data = read_yaml_text(text, source).data
    except YAMLRefused as exc:
        raise ContentError(str(exc)) from exc
    if not isinstance(data, dict) or not all(
        isinstance(v, dict) and isinstance(v.get("entries"), list) for v in data.values()
    ):
        raise ContentError(f"{source}: a content version maps each kind to a catalog")
    return {str(kind): _normalise(value) for kind, value in data.items()}


def catalogs(document: Document, source: str, text: str = "") -> dict[str, Catalog]:
    """The catalogs the engine serves; ``text`` (the document's YAML) gives line numbers."""
    lines: dict[tuple[str | int, ...], int] = {}
    if text:
        try:
            lines = dict(read_yaml_text(text, source).lines)
        except YAMLRefused:
            lines = {}
    found: dict[str, Catalog] = {}
    for kind, data in document.items():
        own = {path[1:]: line for path, line in lines.items() if path[:1] == (kind,)}
        located = YAMLDocument(source, data, own)
        found[kind] = parse_catalog({**data, "kind": kind}, source, located)
    return found


def entry_of(document: Document, kind: str, entry_id: str) -> dict[str, Any] | None:
    for entry in document.get(kind, {}).get("entries", []):
        if isinstance(entry, dict) and str(entry.get("id")) == entry_id:
            return entry
    return None


def _catalog(document: Document, kind: str) -> dict[str, Any]:
    if kind not in document:
        raise ContentError(f"there is no catalog {kind!r}")
    return document[kind]


def merged_entry(old: Mapping[str, Any], change: Mapping[str, Any]) -> dict[str, Any]:
    """``old`` with the fields ``change`` names; per-language fields merged per language,
    so a translation ``change`` does not mention is kept."""
    new = copy.deepcopy(dict(old))
    for key, value in change.items():
        if key in PER_LANGUAGE and isinstance(value, Mapping):
            current = new.get(key)
            base = dict(current) if isinstance(current, Mapping) else {}
            base.update(value)
            new[key] = base
        else:
            new[key] = copy.deepcopy(value)
    return new


def put_entry(document: Document, kind: str, entry: Mapping[str, Any]) -> Document:
    """A copy of ``document`` with ``entry`` replacing the entry of its id (or appended)."""
    new = copy.deepcopy(document)
    entries = _catalog(new, kind)["entries"]
    for index, existing in enumerate(entries):
        if isinstance(existing, dict) and str(existing.get("id")) == str(entry["id"]):
            entries[index] = copy.deepcopy(dict(entry))
            return new
    entries.append(copy.deepcopy(dict(entry)))
    return new


def retire_entry(document: Document, kind: str, entry_id: str) -> Document:
    new = copy.deepcopy(document)
    catalog = _catalog(new, kind)
    kept = [
        e for e in catalog["entries"] if not (isinstance(e, dict) and str(e.get("id")) == entry_id)
    ]
    if len(kept) == len(catalog["entries"]):
        raise ContentError(f"catalog {kind!r} has no entry {entry_id!r}")
    catalog["entries"] = kept
    return new


def merge_rows(document: Document, kind: str, rows: Sequence[Mapping[str, Any]]) -> Document:
    """Apply imported rows: new ids are added, known ones updated field by field and
    language by language; nothing the rows do not mention is removed."""
    new = document
    for row in rows:
        old = entry_of(new, kind, str(row["id"]))
        new = put_entry(new, kind, merged_entry(old, row) if old is not None else row)
    return new


def export_catalog(document: Document, kind: str) -> str:
    """One catalog in the shape of its file under ``content/`` (the export format)."""
    return dump_yaml(
        {"kind": kind, **{k: v for k, v in _catalog(document, kind).items() if k != "kind"}}
    )
