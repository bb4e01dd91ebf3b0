"""Reading hotlines from a spreadsheet (CSV): rows that change only what they mention.

Columns: ``id`` (required), and any of ``countries`` (space-separated codes, ``*`` for
everywhere), ``number``, ``source``, ``last_verified`` (YYYY-MM-DD), ``verified_by``,
``text_<lang>``, ``title_<lang>``. An empty or absent column keeps the entry's current
value: a CSV with only ``text_en`` changes the English text and keeps every other
translation. Pure: text in, rows and per-line errors out; the rows become a draft
(:func:`gateway.content.document.merge_rows`), never a write to a file.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import dataclass
from typing import Any

from gateway.errors import GatewayError

MAX_CSV_BYTES = 512 * 1024
KNOWN_COLUMNS = ("id", "countries", "number", "source", "last_verified", "verified_by")


class ContentEditError(GatewayError, ValueError):
    """A change that cannot be made; the message is for the operator."""


@dataclass(frozen=True)
class RowError:
    line: int
    entry: str
    field: str
    message: str

    def __str__(self) -> str:
        who = f" {self.entry}" if self.entry else ""
        what = f" {self.field}:" if self.field else ""
        return f"line {self.line}{who}:{what} {self.message}"


def parse_rows(raw: str, languages: list[str]) -> tuple[list[dict[str, Any]], list[RowError]]:
    if len(raw.encode()) > MAX_CSV_BYTES:
        return [], [RowError(0, "", "", f"the file is over {MAX_CSV_BYTES // 1024} KiB")]
    try:
        reader = csv.DictReader(io.StringIO(raw.lstrip("\ufeff")))
        columns = [c.strip() for c in reader.fieldnames or []]
        if "id" not in columns:
            return [], [
                RowError(1, "", "id", "the first line must name the columns, 'id' among them")
            ]
        unknown = [
            c for c in columns if c not in KNOWN_COLUMNS and not c.startswith(("text_", "title_"))
        ]
        if unknown:
            return [], [RowError(1, "", "", f"unknown column(s): {', '.join(unknown)}")]
        rows: list[dict[str, Any]] = []
        errors: list[RowError] = []
        for line, raw_row in enumerate(reader, start=2):
            row = {str(k).strip(): (v or "").strip() for k, v in raw_row.items() if k}
            entry, problems = _entry(row, line, languages)
            errors += problems
            if entry is not None and not problems:
                rows.append(entry)
        return rows, errors
    except csv.Error as exc:
        return [], [RowError(0, "", "", f"not a CSV file: {exc}")]


def _entry(
    row: dict[str, str], line: int, languages: list[str]
) -> tuple[dict[str, Any] | None, list[RowError]]:
    entry_id = row.get("id", "")
    if not entry_id:
        return None, [RowError(line, "", "id", "every row needs an id")]
    errors: list[RowError] = []
    entry: dict[str, Any] = {"id": entry_id}
    for column in ("number", "source", "verified_by"):
        if row.get(column):
            entry[column] = row[column]
    if row.get("countries"):
        entry["countries"] = [c if c == "*" else c.upper() for c in row["countries"].split()]
    if row.get("last_verified"):
        try:
            entry["last_verified"] = dt.date.fromisoformat(row["last_verified"]).isoformat()
        except ValueError:
            errors.append(RowError(line, entry_id, "last_verified", "must be YYYY-MM-DD"))
    for prefix, field in (("text_", "text"), ("title_", "title")):
        texts = {c[len(prefix) :]: v for c, v in row.items() if c.startswith(prefix) and v}
        for language in sorted(set(texts) - set(languages)):
            errors.append(
                RowError(line, entry_id, f"{prefix}{language}", "not one of the tree's languages")
            )
        if texts:
            entry[field] = texts
    return entry, errors
