"""Whether the gateway can send SMS right now, per channel, in words an operator reads.

The console names the channel(s) and their state on the dashboard and on every alert,
and refuses to start sending when no channel works (:func:`refusal`), instead of
showing "Sending started" for messages that can go nowhere. Pure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class ChannelStatus:
    name: str  # "smpp:<smsc>", "africastalking", "log", "none"
    state: str  # "up", "down", "configured", "off"
    working: bool  # messages handed to it can leave now
    detail: str  # why, in a sentence; no number, no secret


def refusal(statuses: Sequence[ChannelStatus]) -> str | None:
    """Why an alert cannot start sending now, or None when some channel works."""
    if any(status.working for status in statuses):
        return None
    if not statuses:
        return "no SMS channel is configured (GATEWAY_SMS_CHANNEL)"
    reasons = "; ".join(f"{s.name} is {s.state}: {s.detail}" for s in statuses)
    return f"no SMS channel can send right now ({reasons})"


def summary(statuses: Sequence[ChannelStatus]) -> str:
    """One line: ``smpp:op1 up, smpp:op2 down``."""
    if not statuses:
        return "unknown"
    return ", ".join(f"{status.name} {status.state}" for status in statuses)
