"""What the console needs from the rest of the gateway, as small ports.

The console reads and writes nothing of its own: accounts, menu versions, content,
alerts and the audit log live in the store (:mod:`gateway.store`); the live menu and
the SMSC links belong to the running gateway, which hands the console callables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class OperatorAccount:
    username: str
    password_hash: str
    role: str
    disabled: bool = False


class OperatorDirectory(Protocol):
    async def get_operator(self, username: str) -> OperatorAccount | None: ...

    async def set_operator_password(self, username: str, password_hash: str) -> None: ...


class AuditTrail(Protocol):
    async def record_audit(
        self, actor: str, action: str, subject: str, detail: Mapping[str, str], at: float
    ) -> None: ...


# The gateway's hook to swap the live menu tree once a version is published: it gets
# the published YAML text and its version number.
PublishHook = Callable[[str, int], Awaitable[None]]
# The SMSC links and their states ("bound", "connecting", "down"), for the dashboard.
LinkStates = Callable[[], Mapping[str, str]]
