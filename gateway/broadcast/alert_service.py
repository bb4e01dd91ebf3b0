"""Operator actions on alerts: create, approve, send, pause, cancel, status, list.

Used by the CLI now and by the console later, so every function takes the acting
operator and the time as arguments, records an audit entry, and raises only the
errors of :mod:`gateway.broadcast.errors`. Operators see counts, never numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from gateway.broadcast.errors import (
    AlertExpired,
    BroadcastNotFound,
    InvalidAlert,
    InvalidTransition,
    SelfApproval,
)
from gateway.broadcast.states import BroadcastEvent, BroadcastState, transition
from gateway.store.port import Store
from gateway.store.records import Audience, Broadcast, NewBroadcast, OutboxState

MAX_ALERT_CHARACTERS = 600  # four concatenated GSM-7 parts; longer alerts cost too much


@dataclass(frozen=True)
class AlertDraft:
    texts: Mapping[str, str]
    fallback_language: str
    topics: tuple[str, ...]
    source: str
    author: str
    expires_at: float
    regions: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    service: str = ""  # the service's store key ("" is the default): whose subscribers


@dataclass(frozen=True)
class AlertStatus:
    id: int
    state: str
    source: str
    author: str
    approver: str | None
    expires_at: float
    topics: tuple[str, ...]
    languages: tuple[str, ...]
    audience: int
    counts: Mapping[str, int] = field(default_factory=dict)


class AlertService:
    def __init__(self, store: Store, known_topics: Iterable[str] | None = None) -> None:
        self._store = store
        self._known_topics = frozenset(known_topics) if known_topics is not None else None

    async def create(self, draft: AlertDraft, now: float) -> int:
        self._validate(draft, now)
        new = NewBroadcast(
            texts={lang: text.strip() for lang, text in draft.texts.items() if text.strip()},
            fallback_language=draft.fallback_language,
            audience=Audience(draft.topics, draft.regions, draft.languages, draft.service),
            source=draft.source.strip(),
            author=draft.author,
            expires_at=draft.expires_at,
        )
        broadcast_id = await self._store.create_broadcast(new, now)
        await self._audit(
            draft.author,
            "alert.create",
            broadcast_id,
            {"topics": list(draft.topics), "languages": sorted(new.texts), "source": new.source},
            now,
            draft.service,
        )
        return broadcast_id

    def _validate(self, draft: AlertDraft, now: float) -> None:
        if not draft.topics:
            raise InvalidAlert("an alert needs at least one topic")
        if self._known_topics is not None:
            unknown = sorted(set(draft.topics) - self._known_topics)
            if unknown:
                raise InvalidAlert(f"unknown topic(s): {', '.join(unknown)}")
        if not draft.texts.get(draft.fallback_language, "").strip():
            raise InvalidAlert(f"no text in the fallback language {draft.fallback_language!r}")
        for language, text in draft.texts.items():
            if len(text) > MAX_ALERT_CHARACTERS:
                raise InvalidAlert(f"the {language} text is over {MAX_ALERT_CHARACTERS} characters")
        if not draft.source.strip():
            raise InvalidAlert("an alert needs a source (who verified it)")
        if not draft.author.strip():
            raise InvalidAlert("an alert needs an author")
        if draft.expires_at <= now:
            raise InvalidAlert("the expiry time is already past")

    async def get(self, broadcast_id: int) -> Broadcast:
        broadcast = await self._store.get_broadcast(broadcast_id)
        if broadcast is None:
            raise BroadcastNotFound(f"no alert {broadcast_id}")
        return broadcast

    async def approve(self, broadcast_id: int, approver: str, now: float) -> None:
        broadcast = await self.get(broadcast_id)
        if approver == broadcast.author:
            await self._audit(
                approver,
                "alert.approve_refused",
                broadcast_id,
                {"why": "author"},
                now,
                broadcast.audience.service,
            )
            raise SelfApproval("an alert must be approved by someone other than its author")
        if broadcast.expires_at <= now:
            raise AlertExpired(f"alert {broadcast_id} has expired")
        await self._step(broadcast, BroadcastEvent.APPROVE, now, approver=approver)
        await self._audit(
            approver, "alert.approve", broadcast_id, {}, now, broadcast.audience.service
        )

    async def send(self, broadcast_id: int, operator: str, now: float) -> None:
        """Start (or resume) sending; the worker picks it up."""
        broadcast = await self.get(broadcast_id)
        if broadcast.expires_at <= now:
            raise AlertExpired(f"alert {broadcast_id} has expired and cannot be sent")
        await self._step(broadcast, BroadcastEvent.SEND, now)
        await self._audit(operator, "alert.send", broadcast_id, {}, now, broadcast.audience.service)

    async def pause(self, broadcast_id: int, operator: str, now: float) -> None:
        broadcast = await self.get(broadcast_id)
        await self._step(broadcast, BroadcastEvent.PAUSE, now)
        await self._audit(
            operator, "alert.pause", broadcast_id, {}, now, broadcast.audience.service
        )

    async def cancel(self, broadcast_id: int, operator: str, now: float) -> None:
        broadcast = await self.get(broadcast_id)
        await self._step(broadcast, BroadcastEvent.CANCEL, now)
        withdrawn = await self._store.close_pending(
            broadcast_id, OutboxState.CANCELLED, now, include_submitted=False
        )
        await self._audit(
            operator,
            "alert.cancel",
            broadcast_id,
            {"withdrawn": withdrawn},
            now,
            broadcast.audience.service,
        )

    async def status(self, broadcast_id: int) -> AlertStatus:
        return await self._status(await self.get(broadcast_id))

    async def list(
        self, states: Iterable[str] | None = None, limit: int = 50, service: str | None = None
    ) -> list[AlertStatus]:
        broadcasts = await self._store.list_broadcasts(states, limit, service)
        return [await self._status(broadcast) for broadcast in broadcasts]

    async def _status(self, broadcast: Broadcast) -> AlertStatus:
        counts = await self._store.outbox_counts(broadcast.id)
        if broadcast.expansion_done or broadcast.state in ("done", "cancelled"):
            audience = counts.total
        else:
            # Still being written to the outbox: the whole audience, not the rows so
            # far, or the percentage would fall as rows are added.
            audience = max(counts.total, await self._store.audience_size(broadcast.audience))
        summary = {
            "queued": counts.pending,
            "submitted": counts["submitted"],
            "delivered": counts["delivered"],
            "failed": counts["failed"],
            "expired": counts["expired"],
            "opted_out": counts["opted_out"],
            "cancelled": counts["cancelled"],
            "unknown": counts["unknown"],
        }
        return AlertStatus(
            id=broadcast.id,
            state=broadcast.state,
            source=broadcast.source,
            author=broadcast.author,
            approver=broadcast.approver,
            expires_at=broadcast.expires_at,
            topics=broadcast.audience.topics,
            languages=tuple(sorted(broadcast.texts)),
            audience=audience,
            counts=summary,
        )

    async def _step(
        self, broadcast: Broadcast, event: BroadcastEvent, now: float, approver: str | None = None
    ) -> None:
        current = BroadcastState(broadcast.state)
        target = transition(current, event)
        changed = await self._store.set_broadcast_state(
            broadcast.id, current.value, target.value, now, approver=approver
        )
        if not changed:
            raise InvalidTransition(f"alert {broadcast.id} changed state meanwhile; try again")

    async def _audit(
        self,
        actor: str,
        action: str,
        broadcast_id: int,
        details: Mapping[str, object],
        now: float,
        service: str,
    ) -> None:
        """A row about the alert, under the service it belongs to (its store key)."""
        await self._store.append_audit(
            actor, action, f"broadcast:{broadcast_id}", details, now, service=service
        )
