"""The channel-neutral USSD request and reply.

Every channel (Africa's Talking HTTP callbacks, USSD over SMPP) turns its own wire
format into a :class:`USSDRequest`, asks :class:`gateway.ussd.service.USSDService`
for a :class:`USSDReply`, and renders that back in its own dialect.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol


@dataclass(frozen=True)
class USSDRequest:
    channel: str  # "africastalking" | "smpp:<smsc name>"
    session_id: str  # the aggregator's session id (hashed before any storage)
    msisdn: str = field(repr=False)  # never logged or stored in clear
    service_code: str = ""
    network_code: str = ""  # MCC+MNC, e.g. "63902"
    user_input: str | None = None  # the newest input; None on the first request
    # Identifies this exact request within the session so a re-sent request gets the
    # same screen and repeats no effect (AT: the cumulative text; SMPP: a sequence).
    replay_key: str = ""


@dataclass(frozen=True)
class USSDReply:
    text: str
    end: bool  # True: the session closes after this screen
    screen_id: str = ""


class USSDHandler(Protocol):
    """Whatever answers USSD requests: the service, or a test twin."""

    async def handle(self, request: USSDRequest) -> USSDReply: ...
