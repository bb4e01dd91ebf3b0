"""Which SMSCs may carry a message, in order: the routing table. Pure.

Each SMSC entry lists the destination prefixes it serves (``routes``, E.164 digits
with or without ``+``; empty = any destination). A message goes to the SMSCs of the
LONGEST prefix that matches its number, in the order of ``GATEWAY_SMSC``: the first
that has a bound transmitter takes it; when it is down, the next one does (failover).
A message is given to one SMSC at a time and never re-routed once an SMSC accepted
it, so two routes never both send one accepted submission.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

ANY = ""  # the route of SMSCs that list no prefix


@dataclass(frozen=True)
class Route:
    prefix: str  # digits, no "+"; "" = any destination
    smscs: tuple[str, ...]  # in failover order

    @property
    def name(self) -> str:
        return f"+{self.prefix}" if self.prefix else "default"


def routing_table(entries: Sequence[tuple[str, Sequence[str]]]) -> tuple[Route, ...]:
    """Routes from (SMSC name, its prefixes) in configuration order, longest first."""
    by_prefix: dict[str, list[str]] = {}
    for name, prefixes in entries:
        for prefix in prefixes or (ANY,):
            digits = prefix.strip().removeprefix("+")
            smscs = by_prefix.setdefault(digits, [])
            if name not in smscs:
                smscs.append(name)
    return tuple(
        Route(prefix, tuple(smscs))
        for prefix, smscs in sorted(by_prefix.items(), key=lambda kv: -len(kv[0]))
    )


def route_for(table: Sequence[Route], recipient: str) -> Route | None:
    """The route of the longest prefix matching ``recipient``, or None (no route)."""
    digits = recipient.removeprefix("+")
    for route in table:  # longest prefix first
        if digits.startswith(route.prefix):
            return route
    return None


def choose(route: Route, is_up: Callable[[str], bool]) -> tuple[str, bool]:
    """The SMSC to use now and whether that is a failover (not the route's first):
    the first that is up, else the first (its queue waits for its link)."""
    for index, smsc in enumerate(route.smscs):
        if is_up(smsc):
            return smsc, index > 0
    return route.smscs[0], False
