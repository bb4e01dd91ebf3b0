"""Which content entries need verifying: stale ones, and ones no operator has verified.

Pure: catalogs and today's date in, lists with each entry's age out. A recent
``last_verified`` date does not make an entry verified: its ``verified_by`` must name
an operator (sample entries say they were never verified, and count as unverified).

What a change *contains*, for the warning its approver sees: a content version serves
every entry; a menu serves the entries its content screens show
(:func:`entries_served`); an alert contains the entries whose number its text quotes
(:func:`entries_quoted`).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.content.catalog import Catalog, Entry
from gateway.menu.model import ScreenKind, Tree

EntryKey = tuple[str, str]  # (catalog kind, entry id)


@dataclass
class Freshness:
    stale: list[tuple[str, Entry, int]] = field(default_factory=list)  # kind, entry, age days
    unverified: list[tuple[str, Entry, int]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return len({(kind, entry.id) for kind, entry, _ in self.stale + self.unverified})

    def note(self) -> str:
        """A warning for whoever publishes or approves, or "" when all is verified."""
        if not self.count:
            return ""
        return (
            f"Warning: it serves {len(self.unverified)} entr(ies) no operator has verified "
            f"and {len(self.stale)} stale one(s)."
        )

    def lines(self) -> list[str]:
        """One line per entry, naming it and its age (for a flash or a terminal)."""
        return [
            f"{kind} {entry.id}: never verified by an operator, dated {age} day(s) ago"
            for kind, entry, age in self.unverified
        ] + [
            f"{kind} {entry.id}: last verified {age} day(s) ago" for kind, entry, age in self.stale
        ]


def freshness(
    catalogs: Mapping[str, Catalog],
    today: dt.date,
    stale_after_days: int,
    only: Iterable[EntryKey] | None = None,
) -> Freshness:
    """Every entry of ``catalogs`` (or only those named in ``only``) past its freshness
    limit or never verified, with its age in days."""
    wanted = None if only is None else set(only)
    result = Freshness()
    for kind, catalog in sorted(catalogs.items()):
        for entry in catalog.entries:
            if wanted is not None and (kind, entry.id) not in wanted:
                continue
            age = (today - entry.last_verified).days
            if age > stale_after_days:
                result.stale.append((kind, entry, age))
            if entry.unverified:
                result.unverified.append((kind, entry, age))
    return result


def entries_served(tree: Tree) -> set[EntryKey]:
    """The catalog entries a menu's content screens show callers."""
    served: set[EntryKey] = set()
    for screen in tree.screens.values():
        if screen.kind is not ScreenKind.CONTENT:
            continue
        catalog = tree.catalogs.get(screen.catalog or "")
        if catalog is None:
            continue
        ids = screen.entries or tuple(entry.id for entry in catalog.entries)
        served |= {(catalog.kind, entry_id) for entry_id in ids}
    return served


def _digits(number: str) -> str:
    return "".join(ch for ch in number if ch.isdigit())


def _number_pattern(number: str) -> re.Pattern[str] | None:
    """A phone number as people write it: its digits, optionally split by one space,
    dot or hyphen, not part of a longer number."""
    digits = _digits(number)
    if not digits:
        return None
    body = "[ .-]?".join(re.escape(d) for d in digits)
    return re.compile(rf"(?<!\d)(?<!\d[ .-]){body}(?![ .-]?\d)")


def entries_quoted(texts: Iterable[str], catalogs: Mapping[str, Catalog]) -> set[EntryKey]:
    """The entries whose number one of ``texts`` quotes (an alert saying "call 999"
    contains the hotline 999: sending it vouches for that number)."""
    quoted: set[EntryKey] = set()
    joined = "\n".join(texts)
    for kind, catalog in catalogs.items():
        for entry in catalog.entries:
            pattern = _number_pattern(entry.number)
            if pattern is not None and pattern.search(joined):
                quoted.add((kind, entry.id))
    return quoted
