"""The declared shape of a content catalog file (``content/hotlines.yaml`` and kin).

Every key a catalog or an entry may have; anything else is refused with its line.
Whether an entry is complete enough to trust (a source, a verification date) is
checked by :mod:`gateway.content.catalog`, which says why it insists.
"""

from __future__ import annotations

import datetime as dt

from gateway.content.file_schema import FileSchema

# Per-language text, or one string (read as the English text).
CatalogTexts = dict[str, str | None] | str


class EntrySchema(FileSchema):
    id: str | None = None
    countries: list[str] | str | None = None
    number: str | None = None
    title: CatalogTexts | None = None
    text: CatalogTexts | None = None
    source: str | None = None
    last_verified: dt.date | None = None
    verified_by: str | None = None
    review: dict[str, str] | None = None  # language -> "needed" while a reviewer must check it


class CatalogSchema(FileSchema):
    kind: str
    sample: bool = False
    notice: str | None = None
    entries: list[EntrySchema] | None = None
