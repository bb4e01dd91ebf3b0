"""Sign-in throttling: growing delays per account+address, per address and per account.

A pure core: the caller passes the counters it read and the time, and gets back a
decision and the counters to write. The store runs :func:`take_attempt` inside one
transaction (see ``SecurityStore.update_sign_in_counters``), so an attempt is counted
*before* the password is checked and a burst of parallel guesses cannot all slip
through between a check and a record.

Why delays and not a lock-out: a lock-out turns the throttle into a weapon (five
wrong guesses from anyone and the approver who must pause a harmful broadcast is
locked out). Instead each key allows a few free attempts, then every further attempt
must wait a delay that doubles with each failure, up to a cap. Three keys:

- ``pair``: account + client address. Few free attempts, long cap: the guesser's own
  address slows down fast.
- ``address``: any account from one address (password spraying). More free attempts.
- ``account``: one account from any address (a guesser with many addresses). Many
  free attempts and a short cap, so the team is slowed at worst by a minute, never
  locked out; the second factor required of admins and approvers is what stops a
  guessed password.

An attempt that is refused is not counted (it was never tried), so hammering does not
push the delay further out. A successful sign-in clears its pair and gives back the
attempt it took from the address and account counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from gateway.store.operator_records import SignInCounter


@dataclass(frozen=True)
class Limit:
    free: int  # attempts allowed before any delay
    base_delay: float  # the first delay, doubled with each further failure
    max_delay: float
    forget_after: float  # a counter quiet this long starts again from zero

    def delay(self, failures: int) -> float:
        if failures < self.free:
            return 0.0
        return min(self.max_delay, self.base_delay * 2.0 ** min(failures - self.free, 30))


PAIR = Limit(free=5, base_delay=30.0, max_delay=900.0, forget_after=86_400.0)
ADDRESS = Limit(free=20, base_delay=30.0, max_delay=900.0, forget_after=86_400.0)
ACCOUNT = Limit(free=50, base_delay=5.0, max_delay=60.0, forget_after=3_600.0)


@dataclass(frozen=True)
class SignInKeys:
    pair: str
    address: str
    account: str

    @classmethod
    def of(cls, username: str, address: str) -> SignInKeys:
        # Usernames are compared case-insensitively here so "Ada" and "ada" share a count.
        account = username.strip().lower()[:64]
        return cls(f"pair:{account}|{address}", f"addr:{address}", f"user:{account}")

    def limits(self) -> tuple[tuple[str, Limit], ...]:
        return ((self.pair, PAIR), (self.address, ADDRESS), (self.account, ACCOUNT))

    def all(self) -> tuple[str, str, str]:
        return (self.pair, self.address, self.account)


@dataclass(frozen=True)
class Attempt:
    allowed: bool
    retry_after: float  # seconds to wait when refused


Changes = dict[str, SignInCounter | None]  # None: delete the counter


def _live(counter: SignInCounter | None, limit: Limit, now: float) -> SignInCounter | None:
    if counter is None or now - counter.last_at > limit.forget_after:
        return None
    return counter


def take_attempt(
    keys: SignInKeys, counters: Mapping[str, SignInCounter], now: float
) -> tuple[Attempt, Changes]:
    """Allow this attempt (and count it as a failure until proven otherwise), or refuse
    it with the seconds to wait. Refused attempts change nothing."""
    wait = 0.0
    for key, limit in keys.limits():
        counter = _live(counters.get(key), limit, now)
        if counter is None:
            continue
        ready_at = counter.last_at + limit.delay(counter.failures)
        wait = max(wait, ready_at - now)
    if wait > 0:
        return Attempt(False, wait), {}
    changes: Changes = {}
    for key, limit in keys.limits():
        counter = _live(counters.get(key), limit, now)
        failures = counter.failures if counter else 0
        changes[key] = SignInCounter(failures + 1, now)
    return Attempt(True, 0.0), changes


def succeeded(keys: SignInKeys, counters: Mapping[str, SignInCounter]) -> Changes:
    """The password (and second factor) were right: clear the pair, give back the
    attempt taken from the address and the account."""
    changes: Changes = {keys.pair: None}
    for key in (keys.address, keys.account):
        counter = counters.get(key)
        if counter is not None:
            left = counter.failures - 1
            changes[key] = SignInCounter(left, counter.last_at) if left > 0 else None
    return changes
