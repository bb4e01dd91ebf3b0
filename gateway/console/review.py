"""What a version changes, as an approver reads it: per entry or screen, per field, per
language, old -> new. Pure: two documents in, a list of changes out.

A first version is compared against nothing, so every field it sets is shown as new.
Hotline numbers are public numbers, not callers': they may appear here and in the
audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gateway.content.safe_yaml import YAMLRefused, load_yaml

Flat = dict[tuple[str, str], str]  # (field, language) -> value ("" language: none)


@dataclass(frozen=True)
class FieldChange:
    subject: str  # "hotlines ke-999", "screen main", "tree"
    field: str  # "number", "text", "option 1 label"
    language: str  # "" when the field is not per language
    old: str | None  # None: not there before
    new: str | None  # None: removed

    @property
    def kind(self) -> str:
        return "added" if self.old is None else "removed" if self.new is None else "changed"

    def as_audit(self) -> dict[str, str]:
        row = {
            "entry": self.subject,
            "field": self.field,
            "old": self.old or "",
            "new": self.new or "",
        }
        if self.language:
            row["language"] = self.language
        return row


def _text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if hasattr(value, "isoformat"):
        return str(value.isoformat())
    return "" if value is None else str(value)


def _is_per_language(value: Any) -> bool:
    return (
        isinstance(value, Mapping)
        and bool(value)
        and all(
            isinstance(k, str) and len(k) <= 3 and not isinstance(v, Mapping | list)
            for k, v in value.items()
        )
    )


def flatten(mapping: Mapping[str, Any], skip: tuple[str, ...] = ()) -> Flat:
    """One line per field and language; option lists by key; nested mappings by path."""
    flat: Flat = {}

    def walk(prefix: str, value: Any) -> None:
        if _is_per_language(value):
            for language, text in value.items():
                flat[(prefix, str(language))] = _text(text)
        elif isinstance(value, Mapping):
            for key, inner in value.items():
                walk(f"{prefix} {key}".strip(), inner)
        elif (
            isinstance(value, list)
            and value
            and all(isinstance(v, Mapping) and "key" in v for v in value)
        ):
            for option in value:
                label = f"{prefix} {option.get('key')}".strip()
                for key, inner in option.items():
                    if key != "key":
                        walk(f"{label} {key}", inner)
        else:
            flat[(prefix, "")] = _text(value)

    for key, value in mapping.items():
        if key not in skip:
            walk(str(key), value)
    return flat


def _compare(subject: str, old: Flat, new: Flat) -> list[FieldChange]:
    changes = []
    for key in [*new, *(k for k in old if k not in new)]:
        before, after = old.get(key), new.get(key)
        if before != after:
            changes.append(FieldChange(subject, key[0], key[1], before, after))
    return changes


def _entries(catalog: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {
        str(entry.get("id")): entry
        for entry in catalog.get("entries") or []
        if isinstance(entry, Mapping)
    }


def content_changes(
    old: Mapping[str, Mapping[str, Any]] | None, new: Mapping[str, Mapping[str, Any]]
) -> list[FieldChange]:
    """Per catalog entry: every field and translation that differs (``old`` None: all)."""
    before_doc = old or {}
    changes: list[FieldChange] = []
    for kind in [*new, *(k for k in before_doc if k not in new)]:
        before_cat, after_cat = before_doc.get(kind) or {}, new.get(kind) or {}
        changes += _compare(
            kind,
            flatten(before_cat, skip=("entries", "kind")),
            flatten(after_cat, skip=("entries", "kind")),
        )
        before, after = _entries(before_cat), _entries(after_cat)
        for entry_id in [*after, *(e for e in before if e not in after)]:
            changes += _compare(
                f"{kind} {entry_id}",
                flatten(before.get(entry_id) or {}, skip=("id",)),
                flatten(after.get(entry_id) or {}, skip=("id",)),
            )
    return changes


def tree_changes(old_yaml: str | None, new_yaml: str) -> list[FieldChange]:
    """Per screen: every field, option and translation that differs (``old`` None: all)."""
    before, after = _tree(old_yaml) if old_yaml is not None else {}, _tree(new_yaml)
    changes = _compare(
        "tree", flatten(before, skip=("screens",)), flatten(after, skip=("screens",))
    )
    old_screens, new_screens = _screens(before), _screens(after)
    for screen_id in [*new_screens, *(s for s in old_screens if s not in new_screens)]:
        changes += _compare(
            f"screen {screen_id}",
            flatten(old_screens.get(screen_id) or {}),
            flatten(new_screens.get(screen_id) or {}),
        )
    return changes


def _tree(text: str) -> Mapping[str, Any]:
    try:
        data = load_yaml(text)
    except YAMLRefused:  # the validator shows what is wrong
        return {}
    return data if isinstance(data, Mapping) else {}


def _screens(tree: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    screens = tree.get("screens")
    if not isinstance(screens, Mapping):
        return {}
    return {str(k): v for k, v in screens.items() if isinstance(v, Mapping)}


def grouped(changes: list[FieldChange]) -> list[tuple[str, list[FieldChange]]]:
    """Changes grouped by subject, in order of first appearance."""
    groups: dict[str, list[FieldChange]] = {}
    for change in changes:
        groups.setdefault(change.subject, []).append(change)
    return list(groups.items())


AUDIT_CHANGES = 200  # an audit row names at most this many changes (and counts them all)


def audit_details(changes: list[FieldChange]) -> dict[str, object]:
    """What a publish's audit row says: how many fields changed, and each one (entry,
    field, language, old, new) up to :data:`AUDIT_CHANGES`."""
    return {
        "changed_fields": len(changes),
        "changes": [change.as_audit() for change in changes[:AUDIT_CHANGES]],
    }
