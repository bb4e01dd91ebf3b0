"""Which targets may carry a message, in order, and when to try the next: the routing
table. Pure (no I/O, no clock).

A route matches destinations by number prefix (E.164 digits) and/or by country (ISO
3166 alpha-2, read from the number by the caller) and lists its targets in failover
order: SMSC names from ``GATEWAY_SMSC`` or ``africastalking``. The most specific match
wins: a prefix counts its digits, a country the digits of its calling code plus a half
(``CA`` beats ``+1``, ``+2547`` beats ``KE``); a route with neither matches anything,
least specific of all. On a tie the route written first wins.

One message, one :class:`Attempt`: the first target that is up takes it. It goes to
the next target only when

- the target is down before anything was sent to it (not bound, no link), or
- the target ANSWERED with a final error of a class in the route's ``failover_on``
  (an error another route may not have: invalid destination, submit failed, could not
  route).

Never after a target accepted it (final for that message), never after an answer we
did not get (link lost, timeout: the target may have taken it, so the outcome is
``unknown`` and nothing is re-routed), never on throttling or temporary errors (they
retry the same target). So two targets never both send one accepted submission.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum

from gateway.pacing.token_bucket import TokenBucket

ANY = ""  # the route of SMSCs that list no prefix (legacy per-SMSC ``routes``)
AFRICAS_TALKING = "africastalking"  # the target name of the AT SMS API

# Error classes that make a message try the route's next target: SMPP command_status
# names (as ``status_name`` writes them; a vendor code as ``0x0000040b``) and Africa's
# Talking per-recipient statuses.
DEFAULT_FAILOVER_ON: frozenset[str] = frozenset(
    {
        "ESME_RINVDSTADR",  # 0x0b invalid destination address (not ours to reach)
        "ESME_RSUBMITFAIL",  # 0x45 submit_sm failed
        "ESME_RX_P_APPN",  # 0x65 permanent application error
        "CouldNotRoute",  # AT 407
        "UnsupportedNumberType",  # AT 404
        "RejectedByGateway",  # AT 502
    }
)


@dataclass(frozen=True)
class Route:
    prefix: str  # the first prefix (digits, no "+"): the legacy key; "" = any
    smscs: tuple[str, ...]  # targets in failover order (SMSC names or AFRICAS_TALKING)
    label: str = ""  # the deployer's name; "" = from the prefix
    prefixes: tuple[str, ...] = ()  # every prefix it matches (defaults to (prefix,))
    countries: tuple[tuple[str, str], ...] = ()  # (ISO alpha-2, calling code digits)
    tps: float = 0.0  # the route's own rate; 0 = only each target's grant
    failover_on: frozenset[str] = field(default=DEFAULT_FAILOVER_ON)
    # Legacy "any destination" route of SMSCs that list no prefix: they share the
    # traffic (least-loaded) instead of failing over in order.
    balance: bool = False

    @property
    def name(self) -> str:
        if self.label:
            return self.label
        return f"+{self.prefix}" if self.prefix else "default"

    @property
    def targets(self) -> tuple[str, ...]:
        return self.smscs

    def specificity(self, digits: str, region: str | None) -> float | None:
        """How closely this route matches (higher wins), None when it does not."""
        prefixes = self.prefixes or (self.prefix,)
        if not self.countries and prefixes == (ANY,):
            return 0.0
        best: float | None = None
        for prefix in prefixes:
            if prefix and digits.startswith(prefix):
                best = max(best or 0.0, float(len(prefix)))
        for country, code in self.countries:
            if region == country:
                best = max(best or 0.0, len(code) + 0.5)
        return best


def routing_table(entries: Sequence[tuple[str, Sequence[str]]]) -> tuple[Route, ...]:
    """Routes from the legacy per-SMSC ``routes``: (SMSC name, its prefixes) in
    configuration order. SMSCs on one prefix fail over in that order; SMSCs that list
    no prefix form the ``default`` route and share its traffic."""
    by_prefix: dict[str, list[str]] = {}
    for name, prefixes in entries:
        for prefix in prefixes or (ANY,):
            digits = prefix.strip().removeprefix("+")
            smscs = by_prefix.setdefault(digits, [])
            if name not in smscs:
                smscs.append(name)
    return tuple(
        Route(prefix, tuple(smscs), balance=prefix == ANY)
        for prefix, smscs in sorted(by_prefix.items(), key=lambda kv: -len(kv[0]))
    )


def route_for(table: Sequence[Route], recipient: str, region: str | None = None) -> Route | None:
    """The most specific route for ``recipient`` (E.164, ``+`` optional) whose country
    is ``region`` (None when unknown), or None (no route)."""
    digits = recipient.removeprefix("+")
    best: Route | None = None
    best_score = -1.0
    for route in table:
        score = route.specificity(digits, region)
        if score is not None and score > best_score:
            best, best_score = route, score
    return best


def choose(
    route: Route, is_up: Callable[[str], bool], tried: Iterable[str] = ()
) -> tuple[str, bool] | None:
    """The target to use now and whether that is a failover (not the route's first):
    the first untried target that is up, else the first untried one (its queue waits
    for its link); None when every target was tried."""
    done = set(tried)
    untried = [target for target in route.smscs if target not in done]
    if not untried:
        return None
    for target in untried:
        if is_up(target):
            return target, target != route.smscs[0]
    return untried[0], untried[0] != route.smscs[0]


class Answer(Enum):
    """What a target made of a message, as far as routing cares."""

    ACCEPTED = "accepted"  # final for this message: never re-routed
    REFUSED = "refused"  # a final error (its class decides: next target or failed)
    RETRY = "retry"  # temporary or throttled: the same choice later
    NOT_SENT = "not_sent"  # down before anything was written to it: the next may take it
    UNKNOWN = "unknown"  # sent, no answer: it may have been taken; never re-routed
    OPTED_OUT = "opted_out"  # the person blocked us: final


class Step(Enum):
    DONE = "done"  # the message's outcome is this answer
    NEXT = "next"  # try the route's next target


def after(route: Route, answer: Answer, error_class: str) -> Step:
    """Whether a target's answer ends the message here or sends it to the next target."""
    if answer is Answer.NOT_SENT:
        return Step.NEXT
    if answer is Answer.REFUSED and error_class in route.failover_on:
        return Step.NEXT
    return Step.DONE


@dataclass
class Attempt:
    """One message's way along its route (the adapter sends; this decides)."""

    route: Route
    tried: list[str] = field(default_factory=list)
    final: str | None = None  # the target whose answer ended it

    def next_target(self, is_up: Callable[[str], bool]) -> tuple[str, bool] | None:
        """The target to hand the message to now, or None (no target left, or ended)."""
        if self.final is not None:
            return None
        chosen = choose(self.route, is_up, self.tried)
        if chosen is not None:
            self.tried.append(chosen[0])
        return chosen

    def answered(self, target: str, answer: Answer, error_class: str = "") -> Step:
        step = after(self.route, answer, error_class)
        if step is Step.DONE:
            self.final = target
        return step


class RoutePacing:
    """Each route's own rate (``Route.tps``), on top of each target's grant: one token
    bucket per route holding at most a tenth of a second's messages (at least one).
    Pure: the time is an argument."""

    def __init__(self, table: Sequence[Route], now: float) -> None:
        self._buckets = {
            route.name: TokenBucket(route.tps, max(1.0, route.tps / 10), now)
            for route in table
            if route.tps > 0
        }

    def reserve(self, route: Route, now: float) -> float:
        """Take the next slot of ``route`` for one message: the seconds from ``now`` until
        it may go (0 = now). Slots are handed out in order: the bucket may go below
        zero, so each later message waits its turn."""
        bucket = self._buckets.get(route.name)
        if bucket is None:
            return 0.0
        wait = bucket.wait_for(1, now)
        bucket.take(1, now)
        return wait
