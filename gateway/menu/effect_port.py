"""The port through which channel adapters carry out the menu engine's effects.

A caller is known here by their number *in memory only*, for the time of one
request: the handler may hash it (look-ups) or seal it (subscriber store); it must
never log or store it in clear.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from gateway.menu.effects import Effect


@dataclass(frozen=True)
class Caller:
    """Who is on the line. ``msisdn`` is kept out of repr so it never reaches a log."""

    msisdn: str = field(repr=False)
    msisdn_hash: str
    channel: str  # "africastalking" | "smpp:<smsc name>"
    network_code: str = ""
    service: str = ""  # the store key of the service called ("" is the default)


class EffectHandler(Protocol):
    async def handle(self, caller: Caller, effects: Sequence[Effect]) -> None:
        """Carry out ``effects`` for ``caller``. Must not raise for a caller's input."""


class RecordingEffectHandler:
    """Keeps effects in memory: the in-process terminal phone (``gateway simulate``)
    uses it, and tests use it as a twin of the store-backed handler."""

    def __init__(self) -> None:
        self.handled: list[tuple[Caller, Effect]] = []

    async def handle(self, caller: Caller, effects: Sequence[Effect]) -> None:
        self.handled.extend((caller, effect) for effect in effects)
