"""Values that cross the store port. Plain frozen dataclasses, no I/O.

Times are POSIX seconds (floats) handed in by the caller, so the store never reads a
clock of its own and tests control time.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class OutboxState(StrEnum):
    """Where one (broadcast, recipient) row stands. The last six never change again."""

    QUEUED = "queued"
    CLAIMED = "claimed"  # a worker holds it under a lease and may be submitting it
    SUBMITTED = "submitted"  # the channel accepted it; waiting for a receipt
    DELIVERED = "delivered"
    FAILED = "failed"
    EXPIRED = "expired"
    OPTED_OUT = "opted_out"
    CANCELLED = "cancelled"
    # Accepted by the channel, but no receipt came within the receipt timeout: we
    # cannot tell whether it reached the person, and say so.
    UNKNOWN = "unknown"

    @property
    def is_final(self) -> bool:
        return self not in (OutboxState.QUEUED, OutboxState.CLAIMED, OutboxState.SUBMITTED)


# Receipt states (gateway.sms.messages.DeliveryState values) after which a part never moves.
FINAL_PART_STATES: tuple[str, ...] = ("delivered", "failed", "rejected", "expired", "opted_out")


@dataclass(frozen=True)
class Subscriber:
    id: int
    msisdn_hash: str
    language: str
    channel: str
    consent_at: float | None
    opted_out_at: float | None


@dataclass(frozen=True)
class Subscription:
    topic: str
    region: str
    language: str
    service: str = ""  # "" is the default service (gateway.menu.services)


@dataclass(frozen=True)
class Audience:
    """Who an alert goes to: subscribers of any of ``topics``; empty regions or
    languages mean "any". A subscription's region is "" when its country is unknown:
    an audience limited to some countries reaches those people only if its regions
    include "" (:data:`UNKNOWN_REGION`), which the operator chooses explicitly."""

    topics: tuple[str, ...]
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    # Whose subscribers: the service's store key ("" is the default service).
    service: str = ""

    @property
    def includes_unknown_region(self) -> bool:
        return not self.regions or UNKNOWN_REGION in self.regions

    @property
    def known_regions(self) -> tuple[str, ...]:
        return tuple(region for region in self.regions if region != UNKNOWN_REGION)


UNKNOWN_REGION = ""  # a subscription whose country is unknown


@dataclass(frozen=True)
class NewBroadcast:
    texts: Mapping[str, str]  # language -> text
    fallback_language: str
    audience: Audience
    source: str  # who verified the information
    author: str
    expires_at: float


@dataclass(frozen=True)
class Broadcast:
    id: int
    texts: Mapping[str, str]
    fallback_language: str
    audience: Audience
    source: str
    author: str
    approver: str | None
    expires_at: float
    state: str
    created_at: float
    approved_at: float | None
    started_at: float | None
    finished_at: float | None
    expansion_done: bool
    expansion_cursor: int


@dataclass(frozen=True)
class ClaimedMessage:
    """One outbox row a worker holds, with what it needs to submit it."""

    outbox_id: int
    subscriber_id: int
    language: str
    attempts: int
    msisdn_sealed: bytes = field(repr=False)


@dataclass(frozen=True)
class Submission:
    """What became of one claimed row at the channel."""

    outbox_id: int
    outcome: str  # a gateway.sms.messages.SendOutcome value
    message_ids: tuple[str, ...] = ()
    error: str = ""
    channel: str = ""  # the ids' channel family when not the worker's own


@dataclass(frozen=True)
class DeliveryUpdate:
    """A receipt for one part, keyed by the channel's message id."""

    channel: str
    message_id: str
    state: str  # a gateway.sms.messages.DeliveryState value
    error: str = ""
    at: float = 0.0


@dataclass(frozen=True)
class HeldReceipt:
    """A receipt an SMSC sent that could belong to two live messages, kept until the
    SMSC's id format is known (``receipt_id`` as the receipt wrote it)."""

    receipt_id: str
    state: str  # a gateway.sms.messages.DeliveryState value
    error: str = ""


@dataclass(frozen=True)
class ReceiptMatching:
    """One SMSC account's receipt matching state that outlives a restart: the id format
    learned (None while learning) and the receipts held, oldest first."""

    receipt_id: str | None
    held: tuple[HeldReceipt, ...] = ()


@dataclass(frozen=True)
class OutboxCounts:
    counts: Mapping[str, int]

    def __getitem__(self, state: str) -> int:
        return self.counts.get(state, 0)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    @property
    def pending(self) -> int:
        return self[OutboxState.QUEUED.value] + self[OutboxState.CLAIMED.value]


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: float
    actor: str
    action: str
    subject: str
    details: Mapping[str, object]
    prev_hash: str
    row_hash: str
    # The service the row is about: its store key ("" for the default); None for a row
    # about no service (sign-ins, accounts) and for every row written before services
    # were recorded. Sealed in the row's hash when set (audit_chain.RowContent).
    service: str | None = None


@dataclass(frozen=True)
class AuditScope:
    """Which audit rows a reader is shown: the rows of ``services`` (store keys, "" the
    default), every row about no service when ``unscoped``, else the rows about no
    service whose actor is one of ``own_actors`` (an operator's own sign-ins and
    password changes, and failed sign-ins typed under their name). A reader with no
    scope sees every row."""

    services: tuple[str, ...] = ()
    unscoped: bool = False
    own_actors: tuple[str, ...] = ()


@dataclass(frozen=True)
class AuditCheckpoint:
    """The audit log as it stood after a write: ``rows`` rows, the last one
    ``last_id`` whose hash is ``head``, at ``at``; ``mac`` seals the four with the
    audit key. Kept outside the database (gateway.store.audit_anchor)."""

    rows: int
    last_id: int
    head: str
    at: float
    mac: str


@dataclass(frozen=True)
class ChainCheck:
    """The result of walking the audit chain: ``broken_at`` is the first bad row id
    (None when what fails is a checkpoint the log no longer reaches), ``reason`` a
    sentence naming it. ``legacy_rows`` were written before the audit key (verified
    unkeyed); keyed rows begin at ``keyed_from``; ``checkpoint`` is the one compared."""

    ok: bool
    checked: int
    broken_at: int | None = None
    reason: str = ""
    legacy_rows: int = 0
    keyed_from: int | None = None
    checkpoint: AuditCheckpoint | None = None


@dataclass(frozen=True)
class Operator:
    id: int
    username: str
    password_hash: str = field(repr=False)
    role: str = "editor"  # admin | editor | approver | none (roles per service only)
    disabled: bool = False
    created_at: float = 0.0


@dataclass(frozen=True)
class MenuVersion:
    id: int
    menu_name: str
    tree_yaml: str
    author: str
    state: str  # draft | published | superseded
    approver: str | None
    created_at: float
    published_at: float | None
    superseded_at: float | None
    # Submitted for review (the validator accepted it whole then): only such a draft
    # may be published.
    submitted_by: str | None = None
    submitted_at: float | None = None


@dataclass(frozen=True)
class SessionEndCount:
    day: str  # YYYY-MM-DD (UTC)
    screen_id: str
    status: str
    count: int
    service: str = ""


@dataclass(frozen=True)
class RetentionResult:
    outbox_rows: int
    delivery_events: int
    inbound_messages: int
    subscribers: int
