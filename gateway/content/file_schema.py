"""Strict schemas for the files operators write, and their faults located at ``file:line``.

Every input file (menu trees, content catalogs, keywords, topics, the SMSC list, CSV
rows) is checked against a pydantic model built on :class:`FileSchema`: a key the
model does not declare is refused (``ned: true`` written for ``end: true`` must not
pass silently and leave a screen that never ends the session), and every value's
type is checked. :func:`schema_faults` turns pydantic's errors into short messages
with the line the YAML reader recorded for each path.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from gateway.content.safe_yaml import YAMLDocument, YAMLPath


class FileSchema(BaseModel):
    """Unknown keys refused; numbers written where text is expected read as text
    (``key: 1`` and ``key: "1"`` mean the same option)."""

    model_config = ConfigDict(extra="forbid", frozen=True, coerce_numbers_to_str=True)


@dataclass(frozen=True)
class SchemaFault:
    """One schema error: where it is (the path in the document and its line) and what."""

    path: YAMLPath
    line: int
    message: str


def known_keys(model: type[BaseModel]) -> set[str]:
    """Every key ``model`` and the models inside it declare (for "did you mean")."""
    names: set[str] = set()
    seen: set[type[BaseModel]] = set()

    def visit(cls: type[BaseModel]) -> None:
        if cls in seen:
            return
        seen.add(cls)
        for name, info in cls.model_fields.items():
            names.add(info.alias or name)
            for inner in _models_in(info.annotation):
                visit(inner)

    visit(model)
    return names


def _models_in(annotation: Any) -> Iterable[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        yield from _models_in(argument)


def schema_faults(
    error: ValidationError,
    document: YAMLDocument,
    model: type[BaseModel],
    base: YAMLPath = (),
) -> list[SchemaFault]:
    """pydantic's errors as located faults, in document order."""
    vocabulary = sorted(known_keys(model))
    faults = []
    for detail in error.errors():
        path: YAMLPath = (*base, *(part for part in detail["loc"] if isinstance(part, str | int)))
        faults.append(SchemaFault(path, document.line_of(path), _message(detail, vocabulary)))
    return sorted(faults, key=lambda fault: fault.line)


def _message(detail: Any, vocabulary: list[str]) -> str:
    loc = [part for part in detail["loc"] if isinstance(part, str | int)]
    name = str(loc[-1]) if loc else ""
    kind = detail["type"]
    if kind == "extra_forbidden":
        hint = difflib.get_close_matches(name, vocabulary, n=1, cutoff=0.6)
        suggestion = f" (did you mean {hint[0]!r}?)" if hint else ""
        return f"unknown key {name!r}{suggestion}"
    if kind == "missing":
        return f"{name!r} is required"
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        return f"{name!r} must be a mapping" if name else "must be a mapping"
    if kind == "enum":
        expected = detail.get("ctx", {}).get("expected", "")
        return f"unknown {name} {detail['input']!r} (one of: {expected})"
    # The line already says where; the innermost key names the value.
    field = next((str(part) for part in reversed(loc) if isinstance(part, str)), "")
    message = str(detail["msg"])
    return f"{field!r}: {message[0].lower()}{message[1:]}" if field else message
