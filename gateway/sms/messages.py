"""Messages that cross between channels (SMPP, Africa's Talking) and the services.

These are the shared vocabulary of the SMS side. A phone number travels only inside
these objects in memory and is kept out of their repr.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Protocol


@dataclass(frozen=True)
class InboundSMS:
    """A mobile-originated SMS, already reassembled if it came in parts."""

    channel: str  # "africastalking" | "smpp:<smsc name>"
    sender: str = field(repr=False)  # the handset's number; never logged
    recipient: str  # our short code / long number
    text: str
    message_id: str  # the channel's id, used to drop re-deliveries
    received_at: float = 0.0
    # The country of the network the sender is on (AT: the MCC of ``networkCode``;
    # SMPP: the SMSC's ``default_country``), "" when unknown.
    network_country: str = ""


class DeliveryState(Enum):
    """Where one submitted message stands. ``is_final`` states never change again."""

    SUBMITTED = "submitted"
    BUFFERED = "buffered"
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    REJECTED = "rejected"
    OPTED_OUT = "opted_out"

    @property
    def is_final(self) -> bool:
        return self not in (DeliveryState.SUBMITTED, DeliveryState.BUFFERED)


@dataclass(frozen=True)
class DeliveryReport:
    """A delivery receipt: the channel's message id and the new state."""

    channel: str
    message_id: str
    state: DeliveryState
    error: str = ""


@dataclass(frozen=True)
class OutboundSMS:
    """One SMS to send. ``reference`` is ours (the outbox row) and comes back in results."""

    reference: str
    recipient: str = field(repr=False)
    text: str
    request_receipt: bool = True
    # A reply a person is waiting for (keyword answer, STOP confirmation, USSD "send by
    # SMS"): goes out ahead of broadcast traffic on the same binds, within the grant.
    urgent: bool = False
    # The number it goes out from: a service's own SMS number, so that a reply comes
    # back to the number the person texted; "" = the channel's configured sender
    # (GATEWAY_AT_SENDER_ID, the SMSC's source_addr), as for the default service.
    sender: str = ""
    # Unix time after which the network should stop trying to deliver it (an alert's
    # expiry): on SMPP the submit's validity_period. None: the SMSC's own default.
    valid_until: float | None = None


class SendOutcome(Enum):
    ACCEPTED = "accepted"  # the channel took it; a receipt may follow
    RETRY = "retry"  # temporary failure: try again later
    FAILED = "failed"  # final: never resend
    OPTED_OUT = "opted_out"  # the person blocked us: counts as STOP
    # Sent, but the answer never came (the link died): the channel may have taken it.
    # Final: never sent again anywhere (the row ends ``unknown``), so nobody gets it twice.
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class SendResult:
    reference: str
    outcome: SendOutcome
    message_ids: tuple[str, ...] = ()  # one per part for a concatenated SMS
    error: str = ""
    # The channel family the ids belong to when it is not the sender's own (a route
    # that failed over from SMPP to Africa's Talking); "" = the sender's.
    channel: str = ""


class SMSSender(Protocol):
    """A channel that sends SMS (the SMPP ESME pool, Africa's Talking)."""

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        """Send a batch; one result per message, in order. Never raises for one bad message."""


class InboundSink(Protocol):
    """Where channels hand inbound traffic. It returns only once the item is durable,
    so the channel acknowledges (deliver_sm_resp, HTTP 200) after storage."""

    async def on_inbound_sms(self, message: InboundSMS) -> None: ...

    async def on_delivery_report(self, report: DeliveryReport) -> None: ...
