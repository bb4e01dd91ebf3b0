"""Changing the content catalogs (``content/*.yaml``) from the console.

Two operations: mark an entry verified today (by whom), and import hotlines from a
CSV, shown first as a preview of what would change. Each write re-reads the file,
changes the parsed data, checks that the gateway's own loader accepts the result,
and replaces the file atomically; the comment lines at the top of the file are kept.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.content.catalog import Catalog, ContentError, parse_catalog
from gateway.content.catalog_schema import EntrySchema
from gateway.content.safe_yaml import YAMLRefused, dump_yaml, load_yaml
from gateway.errors import GatewayError

MAX_CSV_BYTES = 512 * 1024
REQUIRED_COLUMNS = ("id", "number", "source", "last_verified")
OPTIONAL_COLUMNS = ("countries", "verified_by")
PER_LANGUAGE_COLUMNS = ("text_", "title_")


class ContentEditError(GatewayError, ValueError):
    """A change that cannot be made; the message is for the operator."""


def catalog_path(directory: Path, kind: str) -> Path:
    for path in sorted(directory.glob("*.yaml")):
        try:
            data = load_yaml(path.read_text(encoding="utf-8"), str(path))
        except YAMLRefused:
            continue
        if isinstance(data, dict) and data.get("kind") == kind and "entries" in data:
            return path
    raise ContentEditError(f"no catalog {kind!r}")


def _read(path: Path, text: str) -> dict[str, Any]:
    try:
        data = load_yaml(text, str(path))
    except YAMLRefused as exc:
        raise ContentEditError(str(exc)) from exc
    if not isinstance(data, dict):
        raise ContentEditError(f"{path}: a catalog must be a YAML mapping")
    return data


def _header(text: str) -> str:
    lines = []
    for line in text.splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines) + "\n" if lines else ""


def _write(path: Path, original: str, data: dict[str, Any]) -> Catalog:
    try:
        catalog = parse_catalog(data, str(path))
    except ContentError as exc:
        raise ContentEditError(str(exc)) from exc
    text = _header(original) + dump_yaml(data)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)
    return catalog


def mark_verified(directory: Path, kind: str, entry_id: str, who: str, today: dt.date) -> None:
    path = catalog_path(directory, kind)
    original = path.read_text(encoding="utf-8")
    data = _read(path, original)
    for entry in data.get("entries") or []:
        if isinstance(entry, dict) and str(entry.get("id")) == entry_id:
            entry["last_verified"] = today.isoformat()
            entry["verified_by"] = who
            break
    else:
        raise ContentEditError(f"catalog {kind!r} has no entry {entry_id!r}")
    _write(path, original, data)


@dataclass
class ImportPreview:
    added: list[dict[str, Any]] = field(default_factory=list)
    changed: list[tuple[dict[str, Any], list[str]]] = field(default_factory=list)
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def has_changes(self) -> bool:
        return bool(self.added or self.changed) and not self.errors


def parse_hotlines_csv(raw: str, languages: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
    """Entries from a CSV with columns id, countries, number, source, last_verified and
    one ``text_<lang>`` (and optionally ``title_<lang>``) per language."""
    if len(raw.encode()) > MAX_CSV_BYTES:
        return [], [f"the file is over {MAX_CSV_BYTES // 1024} KiB"]
    reader = csv.DictReader(io.StringIO(raw.lstrip("\ufeff")))
    columns = [c.strip() for c in reader.fieldnames or []]
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing or not any(c.startswith("text_") for c in columns):
        return [], [f"missing columns: {', '.join(missing or ['text_<language>'])}"]
    # A misspelt column would otherwise be dropped without a word (and its data lost).
    unknown_columns = [
        c
        for c in columns
        if c not in REQUIRED_COLUMNS + OPTIONAL_COLUMNS and not c.startswith(PER_LANGUAGE_COLUMNS)
    ]
    if unknown_columns:
        return [], [f"unknown columns: {', '.join(unknown_columns)}"]
    entries, errors = [], []
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        texts = {c[5:]: row[c] for c in columns if c.startswith("text_") and row.get(c)}
        titles = {c[6:]: row[c] for c in columns if c.startswith("title_") and row.get(c)}
        try:
            verified = dt.date.fromisoformat(row["last_verified"])
        except ValueError:
            errors.append(f"line {line}: last_verified must be YYYY-MM-DD")
            continue
        if not row["id"] or not texts or not row["source"]:
            errors.append(f"line {line}: id, a text and a source are required")
            continue
        countries = [c.strip().upper() for c in row.get("countries", "*").split() if c.strip()]
        entry: dict[str, Any] = {
            "id": row["id"],
            "countries": [c if c != "*" else "*" for c in countries] or ["*"],
            "number": row["number"],
            "title": titles or texts,
            "text": texts,
            "source": row["source"],
            "last_verified": verified.isoformat(),
        }
        if row.get("verified_by"):
            entry["verified_by"] = row["verified_by"]
        try:
            EntrySchema.model_validate(entry)
        except ValidationError as exc:
            errors.append(f"line {line}: {exc.errors()[0]['msg']}")
            continue
        unknown = sorted(set(texts) - set(languages))
        if unknown:
            errors.append(f"line {line}: unknown language(s) {', '.join(unknown)}")
            continue
        entries.append(entry)
    return entries, errors


def _comparable(entry: dict[str, Any]) -> dict[str, Any]:
    keys = ("countries", "number", "text", "source", "last_verified")
    return {k: (str(entry.get(k)) if k == "last_verified" else entry.get(k)) for k in keys}


def preview(
    directory: Path, kind: str, rows: list[dict[str, Any]], errors: list[str]
) -> ImportPreview:
    path = catalog_path(directory, kind)
    data = _read(path, path.read_text(encoding="utf-8"))
    current = {str(e.get("id")): e for e in data.get("entries") or [] if isinstance(e, dict)}
    result = ImportPreview(errors=list(errors))
    for row in rows:
        old = current.get(row["id"])
        if old is None:
            result.added.append(row)
            continue
        before, after = _comparable(old), _comparable(row)
        fields = [k for k in after if before[k] != after[k]]
        if fields:
            result.changed.append((row, fields))
        else:
            result.unchanged += 1
    return result


def apply_import(directory: Path, kind: str, rows: list[dict[str, Any]]) -> int:
    """Add new entries and update existing ones (keeping fields the CSV lacks)."""
    path = catalog_path(directory, kind)
    original = path.read_text(encoding="utf-8")
    data = _read(path, original)
    entries = data.setdefault("entries", [])
    by_id = {str(e.get("id")): e for e in entries if isinstance(e, dict)}
    for row in rows:
        if row["id"] in by_id:
            by_id[row["id"]].update(row)
        else:
            entries.append(row)
    _write(path, original, data)
    return len(rows)
