"""What :class:`gateway.smpp.connection.SMPPConnection` hands out, named in the past tense."""

from __future__ import annotations

from dataclasses import dataclass

from gateway.smpp.pdu import PDU


@dataclass(frozen=True, slots=True)
class Bound:
    """The SMSC accepted our bind (ESME side)."""

    system_id: str


@dataclass(frozen=True, slots=True)
class BindRejected:
    status: int


@dataclass(frozen=True, slots=True)
class RequestReceived:
    """The peer asks something; the caller must answer it with ``send``."""

    pdu: PDU


@dataclass(frozen=True, slots=True)
class ResponseReceived:
    """The answer to one of our requests (a generic_nack counts), matched by sequence."""

    pdu: PDU
    request_command_id: int


@dataclass(frozen=True, slots=True)
class InvalidPDUReceived:
    """A well-framed PDU that did not decode. Answer a request of a known command with
    its own response carrying ``status`` (the connection then owes it), any other
    request with a generic_nack.

    ``request_command_id`` is set when it was the answer to one of our requests, which
    is then no longer outstanding. ``reason`` says what was wrong.
    """

    sequence: int
    command_id: int
    status: int
    request_command_id: int | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class StrayResponseReceived:
    """A response that answers nothing we are waiting for (a duplicate, a late answer
    after a timeout, the wrong type for its sequence). Discarded: the link stays."""

    sequence: int
    command_id: int
    status: int
    reason: str


@dataclass(frozen=True, slots=True)
class Unbound:
    """The unbind handshake finished; the connection is closed."""


@dataclass(frozen=True, slots=True)
class IdleTimeElapsed:
    """Nothing heard for the enquire_link interval: time to send an enquire_link."""


@dataclass(frozen=True, slots=True)
class ResponseTimedOut:
    """One of our requests got no answer in time; it is no longer outstanding."""

    sequence: int
    command_id: int


Event = (
    Bound
    | BindRejected
    | RequestReceived
    | ResponseReceived
    | InvalidPDUReceived
    | StrayResponseReceived
    | Unbound
    | IdleTimeElapsed
    | ResponseTimedOut
)
