"""The channel-neutral USSD request and reply.

Every channel (Africa's Talking HTTP callbacks, USSD over SMPP) turns its own wire
format into a :class:`USSDRequest`, asks :class:`gateway.ussd.service.USSDService`
for a :class:`USSDReply`, and renders that back in its own dialect.
"""

from __future__ import annotations

from typing import NamedTuple, Protocol


class USSDRequest(NamedTuple):
    """One request, whichever channel brought it.

    A ``NamedTuple`` rather than a frozen dataclass: as immutable, and built in well
    under half the time (one per request, the reply and session record likewise).
    """

    channel: str  # "africastalking" | "smpp:<smsc name>"
    session_id: str  # the aggregator's session id (hashed before any storage)
    msisdn: str  # never logged or stored in clear (left out of the repr)
    service_code: str = ""
    network_code: str = ""  # MCC+MNC, e.g. "63902"
    user_input: str | None = None  # the newest input; None on the first request
    # Identifies this exact request within the session so a re-sent request gets the
    # same screen and repeats no effect (AT: the cumulative text; SMPP: a sequence).
    replay_key: str = ""
    # AT sends every input so far joined by "*": the service then works out the
    # newest input from what it saw last (see :func:`newest_input`).
    cumulative: bool = False
    # A channel that knows better than the network code: the language of the keyword
    # that opened an SMS menu (``قائمة`` starts in Arabic), the caller's country.
    language: str | None = None
    country: str = ""

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={value!r}"
            for name, value in zip(self._fields, self, strict=True)
            if name != "msisdn"
        )
        return f"USSDRequest({shown})"


class USSDReply(NamedTuple):
    text: str
    end: bool  # True: the session closes after this screen
    screen_id: str = ""


class USSDHandler(Protocol):
    """Whatever answers USSD requests: the service, or a test twin."""

    async def handle(self, request: USSDRequest) -> USSDReply: ...


def newest_input(text: str, previous: str | None) -> list[str]:
    """The inputs a cumulative ``text`` adds to the ``previous`` one, oldest first.

    AT sends ``"1"``, then ``"1*3"``, then ``"1*3*2"``. Usually one input is new; a
    dial string such as ``*384*123*1*2#`` can bring several at once on a session's
    first request (``previous`` is None), and an input may itself hold ``*``.
    """
    if previous is None:
        return text.split("*") if text else []
    if previous == "":
        return [text]
    if text.startswith(previous + "*"):
        return [text[len(previous) + 1 :]]
    # Not an extension of what we saw (an aggregator quirk): the last field is newest.
    return [text.rsplit("*", 1)[-1]]
