"""The store port: what the services need from durable storage.

:class:`gateway.store.sql_store.SQLStore` fills it with one SQLite file or one
PostgreSQL database (:func:`gateway.store.sql_store.open_store`). Phone numbers never
cross this port in clear: subscribers are found by keyed hash, and the one copy of a
number the sender needs is Fernet ciphertext (``msisdn_sealed``).

Errors::

    StoreError                 the database refused or failed (wraps the driver's error)
    ├── StoreConflict          a unique key already exists (operator name, ...)
    └── AuditKeyMissing        an audit row written by a store opened without the audit key
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Protocol

from gateway.errors import GatewayError
from gateway.store.audit_anchor import AuditAnchor
from gateway.store.operator_records import OperatorSessionRecord, SecondFactor, SignInCounter
from gateway.store.records import (
    Audience,
    AuditCheckpoint,
    AuditEntry,
    AuditScope,
    Broadcast,
    ChainCheck,
    ClaimedMessage,
    DeliveryUpdate,
    HeldReceipt,
    MenuVersion,
    NewBroadcast,
    Operator,
    OutboxCounts,
    OutboxState,
    ReceiptMatching,
    RetentionResult,
    SessionEndCount,
    Submission,
    Subscriber,
    Subscription,
)


class StoreError(GatewayError):
    """The database refused or failed; the message never holds a phone number."""


class StoreConflict(StoreError):
    """A unique key already exists."""


class AuditKeyMissing(StoreError):
    """This process opened the store without the audit key, and cannot write audit
    rows (an unkeyed row after keyed ones would break the chain for good)."""


class SubscriberStore(Protocol):
    async def upsert_subscriber(
        self, msisdn_hash: str, msisdn_sealed: bytes, language: str, channel: str, now: float
    ) -> Subscriber:
        """Create or refresh a subscriber; a person who opted out and joins again
        gives consent anew (``opted_out_at`` cleared, ``consent_at`` = now)."""

    async def get_subscriber(self, msisdn_hash: str) -> Subscriber | None: ...

    async def set_language(self, msisdn_hash: str, language: str, now: float) -> bool: ...

    async def subscribe(
        self,
        subscriber_id: int,
        topic: str,
        region: str,
        language: str,
        now: float,
        service: str = "",
    ) -> bool:
        """True when the subscription (to ``service``'s ``topic``) is new."""

    async def unsubscribe(self, subscriber_id: int, topic: str, service: str = "") -> int: ...

    async def subscriptions(self, subscriber_id: int) -> list[Subscription]: ...

    async def opt_out(self, msisdn_hash: str, now: float, service: str | None = None) -> bool:
        """STOP, at once. ``service`` None (everywhere): drop every subscription, forget
        the sealed number, withdraw every queued message. A service's store key: drop
        that service's subscriptions and withdraw its queued messages; a person left
        with no subscription anywhere is opted out everywhere. True when something
        changed (confirm only then)."""

    async def withdraw_opted_out(self, outbox_ids: Sequence[int], now: float) -> set[int]:
        """Mark rows whose subscriber has opted out as ``opted_out``, and return the ids
        among ``outbox_ids`` that must not be sent any more (opted out now or earlier,
        cancelled, expired). The sender calls this right before each submit."""

    async def audience_size(self, audience: Audience) -> int: ...

    async def topic_counts(self, service: str = "") -> dict[str, int]:
        """Active subscribers per topic of ``service``: an aggregate, never a list."""

    async def subscriber_counts(self) -> dict[str, int]:
        """Active subscribers per service (store key)."""


class BroadcastStore(Protocol):
    async def create_broadcast(self, new: NewBroadcast, now: float) -> int: ...

    async def get_broadcast(self, broadcast_id: int) -> Broadcast | None: ...

    async def list_broadcasts(
        self, states: Iterable[str] | None = None, limit: int = 100, service: str | None = None
    ) -> list[Broadcast]:
        """Newest first; ``service`` (a store key) keeps that service's only."""

    async def set_broadcast_state(
        self,
        broadcast_id: int,
        expected: str,
        new: str,
        now: float,
        approver: str | None = None,
    ) -> bool:
        """Compare-and-set: False when the broadcast is no longer in ``expected``."""

    async def expand_audience(self, broadcast_id: int, batch_size: int, now: float) -> int:
        """Append the next ``batch_size`` recipients to the outbox (one transaction);
        returns how many; marks expansion done when the audience is exhausted."""

    async def claim_outbox(
        self, broadcast_id: int, worker: str, limit: int, now: float, lease_seconds: float
    ) -> list[ClaimedMessage]:
        """Take up to ``limit`` queued rows (or rows whose lease ran out) under a lease."""

    async def record_submissions(
        self, channel: str, submissions: Sequence[Submission], now: float, max_attempts: int
    ) -> None: ...

    async def record_deliveries(self, updates: Sequence[DeliveryUpdate]) -> int:
        """Apply receipts; unknown message ids are kept and applied when the submission
        that owns them is recorded. Returns how many matched a row now."""

    async def close_pending(
        self, broadcast_id: int, state: OutboxState, now: float, include_submitted: bool
    ) -> int:
        """Give every unfinished row ``state`` (expired, cancelled)."""

    async def close_unconfirmed(
        self, broadcast_id: int, scope: str, submitted_before: float, now: float
    ) -> int:
        """Rows still ``submitted`` since before ``submitted_before`` become ``unknown``:
        only those whose first message id is scoped ``<scope>/`` (every one if
        ``scope`` is empty). Returns how many."""

    async def outbox_counts(self, broadcast_id: int) -> OutboxCounts: ...


class InboundStore(Protocol):
    async def has_inbound(self, channel: str, message_id: str) -> bool: ...

    async def record_inbound(
        self,
        channel: str,
        message_id: str,
        sender_hash: str,
        recipient: str,
        command: str,
        received_at: float,
    ) -> bool:
        """Store a mobile-originated message once; False when it is a re-delivery."""


class AuditStore(Protocol):
    async def append_audit(
        self,
        actor: str,
        action: str,
        subject: str,
        details: Mapping[str, object],
        now: float,
        service: str | None = None,
    ) -> AuditEntry:
        """Append a keyed row; ``service`` is the store key of the service the row is
        about ("" the default), None for a row about no service."""

    async def audit_entries(self, after_id: int = 0, limit: int = 1000) -> list[AuditEntry]: ...

    async def audit_entries_before(
        self, before_id: int | None = None, limit: int = 200, scope: AuditScope | None = None
    ) -> list[AuditEntry]:
        """Newest first, below ``before_id`` (from the newest when None); only the rows
        ``scope`` lets through (every row when None)."""

    async def verify_audit_chain(self, checkpoint: AuditCheckpoint | None = None) -> ChainCheck:
        """The chain with the store's audit key (and against ``checkpoint`` if given)."""

    async def verify_audit_log(self, anchor: AuditAnchor | None = None) -> ChainCheck:
        """The chain against the newest checkpoint of the anchor file."""


class ConsoleStore(Protocol):
    async def create_operator(
        self, username: str, password_hash: str, role: str, now: float
    ) -> Operator: ...

    async def get_operator(self, username: str) -> Operator | None: ...

    async def list_operators(self) -> list[Operator]: ...

    async def update_operator(
        self,
        username: str,
        now: float,
        *,
        password_hash: str | None = None,
        role: str | None = None,
        disabled: bool | None = None,
    ) -> bool: ...

    async def create_menu_version(
        self, menu_name: str, tree_yaml: str, author: str, now: float, *, submitted: bool = False
    ) -> MenuVersion:
        """A new draft; ``submitted``: already submitted for review by its author (a
        change checked whole as it is saved)."""

    async def submit_menu_version(self, version_id: int, who: str, now: float) -> bool:
        """Mark a draft submitted for review; False unless it is a draft not yet
        submitted."""

    async def get_menu_version(self, version_id: int) -> MenuVersion | None: ...

    async def list_menu_versions(self, menu_name: str) -> list[MenuVersion]: ...

    async def published_menu(self, menu_name: str) -> MenuVersion | None: ...

    async def publish_menu_version(self, version_id: int, approver: str, now: float) -> bool:
        """Publish a draft and supersede the menu's previous published version."""

    async def record_session_end(
        self, day: str, screen_id: str, status: str, count: int = 1, service: str = ""
    ) -> None: ...

    async def session_end_counts(
        self, since_day: str, service: str = ""
    ) -> list[SessionEndCount]: ...

    async def service_roles(self, username: str) -> dict[str, str]:
        """The account's roles per service (store key -> editor | approver | none)."""

    async def set_service_role(self, username: str, service: str, role: str | None) -> bool:
        """Give ``username`` ``role`` on ``service`` (None: back to the account's role);
        ends the account's sessions, as any role change does. True when it changed."""


class OperatorSecurityStore(Protocol):
    """Sign-in counters, console sessions and second factors: shared by every worker."""

    async def update_sign_in_counters(
        self,
        keys: Sequence[str],
        change: Callable[[dict[str, SignInCounter]], Mapping[str, SignInCounter | None]],
    ) -> None:
        """Read the counters of ``keys``, apply ``change`` (None deletes), write: one
        transaction, serialised against every other worker's."""

    async def purge_sign_in_counters(self, before: float) -> int: ...

    async def save_operator_session(self, record: OperatorSessionRecord) -> None: ...

    async def touch_operator_session(
        self, id_hash: str, last_seen: float, data: str | None, authenticated_at: float | None
    ) -> bool:
        """False when the session was ended meanwhile."""

    async def get_operator_session(self, id_hash: str) -> OperatorSessionRecord | None: ...

    async def delete_operator_session(self, id_hash: str) -> None: ...

    async def delete_operator_sessions(self, username: str, keep: str | None = None) -> int:
        """End every session of ``username`` except ``keep`` (an id hash)."""

    async def list_operator_sessions(self, username: str) -> list[OperatorSessionRecord]: ...

    async def purge_operator_sessions(self, idle_before: float, created_before: float) -> int: ...

    async def get_second_factor(self, username: str) -> SecondFactor | None: ...

    async def save_second_factor(
        self, username: str, totp_sealed: str, recovery_hashes: Sequence[str], now: float
    ) -> None: ...

    async def delete_second_factor(self, username: str) -> bool: ...

    async def use_totp_step(self, username: str, step: int) -> bool:
        """Record a TOTP time step as used; False when it or a later one already was."""

    async def use_recovery_code(self, username: str, code_hash: str) -> bool: ...


class ReceiptStateStore(Protocol):
    """SMPP receipt matching that outlives a restart (see gateway.store.receipt_state)."""

    async def receipt_matching(self, scope: str) -> ReceiptMatching: ...

    async def save_receipt_matching(
        self,
        scope: str,
        *,
        held: Sequence[HeldReceipt] = (),
        released: Sequence[HeldReceipt] = (),
        learned: str | None = None,
        now: float,
    ) -> None: ...

    async def held_receipt_counts(self) -> dict[str, int]: ...


class RetentionStore(Protocol):
    async def purge(self, delivery_before: float, optout_before: float) -> RetentionResult:
        """Delete finished outbox rows, receipts and inbound messages older than
        ``delivery_before``, and subscribers who opted out before ``optout_before``."""


class Store(
    SubscriberStore,
    BroadcastStore,
    InboundStore,
    AuditStore,
    ConsoleStore,
    OperatorSecurityStore,
    ReceiptStateStore,
    RetentionStore,
    Protocol,
):
    async def ping(self) -> bool:
        """True when the store answers (readiness)."""
        ...

    async def close(self) -> None: ...
