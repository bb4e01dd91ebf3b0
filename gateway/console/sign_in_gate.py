"""The sign-in throttle's adapter: runs the pure decision inside one store transaction."""

from __future__ import annotations

from gateway.console.sign_in_throttle import (
    Attempt,
    Changes,
    SignInKeys,
    succeeded,
    take_attempt,
)
from gateway.store.operator_records import SignInCounter
from gateway.store.port import OperatorSecurityStore


class SignInGate:
    def __init__(self, store: OperatorSecurityStore) -> None:
        self.store = store

    async def take(self, keys: SignInKeys, now: float) -> Attempt:
        """Count this attempt before the password is checked, or refuse it."""
        outcome: list[Attempt] = []

        def change(counters: dict[str, SignInCounter]) -> Changes:
            attempt, changes = take_attempt(keys, counters, now)
            outcome.append(attempt)
            return changes

        await self.store.update_sign_in_counters(keys.all(), change)
        return outcome[0]

    async def succeeded(self, keys: SignInKeys) -> None:
        await self.store.update_sign_in_counters(
            keys.all(), lambda counters: succeeded(keys, counters)
        )
