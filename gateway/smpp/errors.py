"""Everything the SMPP package raises, as one tree::

    SMPPError                   base of all of them
    ├── SMPPProtocolError       the PEER broke the protocol: bytes that do not decode, a
    │                           length out of bounds, a PDU the state table forbids.
    │                           Carries the command_status to answer with.
    ├── LocalProtocolError      WE asked the connection for something the table forbids
    │                           (a bug in this process, never the peer's fault)
    └── LinkError               the link is unusable (not connected, bind refused)

Library exceptions (struct.error, KeyError, UnicodeError, OSError) never leave this
package untranslated: they are caught at the boundary and raised as one of these.
"""

from __future__ import annotations

from smpplib import consts

from gateway.errors import GatewayError


class SMPPError(GatewayError):
    """Base of every SMPP error."""


class SMPPProtocolError(SMPPError):
    """The peer sent something this side cannot accept.

    ``command_status`` is the SMPP error code to answer with (in a generic_nack or the
    response to the offending request); ``sequence`` and ``command_id`` are those of the
    offending PDU when its header could be read, else 0. ``fatal`` means the byte stream
    cannot be trusted any more (bad framing) and the connection must close.
    """

    def __init__(
        self,
        message: str,
        command_status: int = consts.SMPP_ESME_RSYSERR,
        *,
        sequence: int = 0,
        command_id: int = 0,
        fatal: bool = False,
    ) -> None:
        super().__init__(message)
        self.command_status = command_status
        self.sequence = sequence
        self.command_id = command_id
        self.fatal = fatal


class LocalProtocolError(SMPPError):
    """This process misused the connection (sent a PDU its state forbids, window full)."""


class LinkError(SMPPError):
    """The link is down, or the SMSC refused the bind."""
