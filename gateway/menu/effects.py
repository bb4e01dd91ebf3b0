"""Effects: what a step of the menu engine asks the world to do.

The engine is pure: it never subscribes anybody or sends an SMS itself. It returns
these small frozen values, and the channel adapter hands them to an
:class:`gateway.menu.effect_port.EffectHandler` after the screen is decided. A replayed request
returns the stored screen and no effects, so nothing happens twice.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SubscribeRequested:
    """The caller chose to receive alerts for ``topic`` in ``language``."""

    topic: str
    language: str
    region: str = ""


@dataclass(frozen=True)
class UnsubscribeRequested:
    """The caller chose to stop alerts: one topic, or all of them when ``topic`` is None."""

    topic: str | None
    language: str


@dataclass(frozen=True)
class SMSCopyRequested:
    """The caller asked for the current content by SMS (``text`` in their language)."""

    text: str
    language: str
    screen_id: str


Effect = SubscribeRequested | UnsubscribeRequested | SMSCopyRequested
