"""Which content entries need verifying: stale ones, and ones no operator has verified.

Pure: catalogs and today's date in, lists with each entry's age out. A recent
``last_verified`` date does not make an entry verified: its ``verified_by`` must name
an operator (sample entries say they were never verified, and count as unverified).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from gateway.content.catalog import Catalog, Entry


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


def freshness(catalogs: dict[str, Catalog], today: dt.date, stale_after_days: int) -> Freshness:
    result = Freshness()
    for kind, catalog in sorted(catalogs.items()):
        for entry in catalog.entries:
            age = (today - entry.last_verified).days
            if age > stale_after_days:
                result.stale.append((kind, entry, age))
            if entry.unverified:
                result.unverified.append((kind, entry, age))
    return result
