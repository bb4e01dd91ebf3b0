"""Tie each receipt of one SMSC account to the one message it belongs to. Pure.

Every message id is scoped by the SMSC account (``<scope>/<id>``): two SMSCs that both
number from 1 never meet, in memory or in the store. Within an account:

- a receipt's id is read in the account's ONE format (:mod:`gateway.smpp.receipt_ids`),
  configured or learned; while ``auto`` has not learned it, a receipt is applied only
  if every still-possible reading points at the same live message. One that could
  belong to two live messages is HELD, never guessed, and resolved the moment the
  format becomes known;
- an SMSC that restarts its counter (a new link epoch) hands out ids again: the
  newest submission owns an id, and the older message it shadows can no longer be
  told apart (its receipt, if one ever came, would look the same): it is counted as
  ``superseded`` and its row ends ``unknown`` after the receipt timeout;
- a long message went out as several parts, each with its own id: it is reported
  once, under its first part's id, when every part has a final state (delivered
  only if all were).

A receipt for an id no live message has (forgotten after a restart, or not ours) is
passed on in its submitted form when the format is known; the store applies it only
to a row still waiting under exactly that scoped id.

What must outlive a restart (the learned format, the held receipts) leaves through
:meth:`ReceiptTracker.take_changes` and comes back through
:meth:`ReceiptTracker.restore`; keeping it is the adapter's job
(:mod:`gateway.smpp.held_receipts`). A held receipt restored after a restart has no
live message left to meet: once the format is known, it is passed on in submitted
form, and the store finds its row by the scoped id.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field

from gateway.smpp.receipt_ids import (
    CONCRETE_FORMATS,
    FormatLearner,
    ReceiptIdFormat,
    normalise,
    receipt_form,
    submitted_form,
)
from gateway.smpp.receipts import Receipt
from gateway.sms.messages import DeliveryState

_SEVERITY = (
    DeliveryState.REJECTED,
    DeliveryState.FAILED,
    DeliveryState.EXPIRED,
    DeliveryState.OPTED_OUT,
)


def scoped_id(scope: str, message_id: str) -> str:
    """The id the store keeps: ``<scope>/<normalised id>`` (just the id without scope)."""
    normal = normalise(message_id)
    return f"{scope}/{normal}" if scope else normal


@dataclass(eq=False)
class _Message:
    part_ids: tuple[str, ...]  # normalised, as submitted
    scoped: str
    states: dict[int, DeliveryState] = field(default_factory=dict)


@dataclass(frozen=True)
class _Part:
    message: _Message
    index: int


@dataclass
class TrackerStats:
    matched: int = 0  # receipts tied to a live message
    passed_on: int = 0  # receipts for no live message, passed on in submitted form
    ambiguous: int = 0  # receipts held because they could belong to two live messages
    resolved: int = 0  # held receipts applied once the format was known
    dropped: int = 0  # held receipts given up (capacity, or no match once known)
    superseded: int = 0  # live messages whose id a newer submission took
    unreadable: int = 0  # ids that cannot be written in the configured format
    restored: int = 0  # held receipts brought back after a restart


@dataclass
class TrackerChanges:
    """What changed since the last :meth:`ReceiptTracker.take_changes`: receipts newly
    held (to keep), receipts no longer held (resolved or dropped: to forget), and the
    format when it became known by evidence (to keep)."""

    held: list[Receipt] = field(default_factory=list)
    released: list[Receipt] = field(default_factory=list)
    learned: ReceiptIdFormat | None = None

    def __bool__(self) -> bool:
        return bool(self.held or self.released or self.learned)


def held_key(receipt: Receipt) -> tuple[str, str, str]:
    """Two held receipts with the same id, state and error are one: applying it twice
    changes nothing."""
    return (normalise(receipt.message_id), receipt.state.value, receipt.error)


class ReceiptTracker:
    """One SMSC account's live messages, bounded to ``capacity`` messages."""

    def __init__(
        self,
        scope: str = "",
        id_format: ReceiptIdFormat = ReceiptIdFormat.AUTO,
        *,
        capacity: int = 200_000,
        hold_capacity: int = 10_000,
    ) -> None:
        self.scope = scope
        self.learner = FormatLearner(id_format)
        self.capacity = capacity
        self.hold_capacity = hold_capacity
        self.stats = TrackerStats()
        # receipt form of a part id -> the part, per still-possible format.
        self._index: dict[ReceiptIdFormat, dict[str, _Part]] = {f: {} for f in CONCRETE_FORMATS}
        self._messages: OrderedDict[int, _Message] = OrderedDict()
        self._held: OrderedDict[tuple[str, str, str], Receipt] = OrderedDict()
        self._changes = TrackerChanges()
        self._kept_format: ReceiptIdFormat | None = None  # as take_changes last said

    def __len__(self) -> int:
        return len(self._messages)

    @property
    def held(self) -> int:
        return len(self._held)

    @property
    def known_format(self) -> ReceiptIdFormat | None:
        return self.learner.known

    def take_changes(self) -> TrackerChanges:
        """Hand over what changed (see :class:`TrackerChanges`) and start afresh."""
        changes, self._changes = self._changes, TrackerChanges()
        known = self.learner.known
        if self.learner.configured is ReceiptIdFormat.AUTO and known is not self._kept_format:
            changes.learned = self._kept_format = known
        return changes

    def held_receipts(self) -> list[Receipt]:
        """The receipts held now, oldest first."""
        return list(self._held.values())

    def restore(self, learned: ReceiptIdFormat | None, held: list[Receipt]) -> list[Receipt]:
        """After a restart: the format learned before (ignored when the configuration
        names one) and the receipts held then, oldest first. Returns the reports that
        can be made at once (the format is known). Restored receipts are not reported
        as newly held by :meth:`take_changes`; those dropped or resolved are released."""
        if learned is not None and self.learner.adopt(learned):
            self._narrowed()
            self._kept_format = learned
        for receipt in held:
            key = held_key(receipt)
            if key in self._held:
                continue
            self._held[key] = receipt
            self.stats.restored += 1
        self._trim_held()
        return self._resolve_held() if self.learner.known is not None else []

    def submitted(self, part_ids: tuple[str, ...]) -> tuple[str, ...]:
        """Remember a message's parts; returns their scoped ids (what the store keeps)."""
        scoped = tuple(scoped_id(self.scope, part) for part in part_ids)
        if not part_ids:
            return scoped
        message = _Message(tuple(normalise(p) for p in part_ids), scoped[0])
        learned = False
        for part_id in message.part_ids:
            learned = self.learner.saw_submitted(part_id) or learned
        if learned:
            self._narrowed()
        shadowed: dict[int, _Message] = {}
        for index, part_id in enumerate(message.part_ids):
            for id_format in self.learner.possible:
                key = receipt_form(id_format, part_id)
                if key is None:
                    continue
                older = self._index[id_format].get(key)
                if older is not None and older.message is not message:
                    shadowed[id(older.message)] = older.message
                self._index[id_format][key] = _Part(message, index)
        for older_message in shadowed.values():
            self._forget(older_message)
            self.stats.superseded += 1
        self._messages[id(message)] = message
        while len(self._messages) > self.capacity:
            _, oldest = self._messages.popitem(last=False)
            self._forget(oldest)
        return scoped

    def receive(self, receipt: Receipt) -> list[Receipt]:
        """The message-level receipts to report now (scoped ids): none while parts are
        missing or the receipt is held, several when it let held receipts resolve."""
        if self.learner.saw_receipt(receipt.message_id):
            self._narrowed()
        reports = self._receive(receipt, count_evidence=True)
        if self.learner.known is not None and self._held:
            reports.extend(self._resolve_held())
        return reports

    # --- matching --------------------------------------------------------------------

    def _receive(self, receipt: Receipt, *, count_evidence: bool) -> list[Receipt]:
        candidates: dict[ReceiptIdFormat, _Part] = {}
        for id_format in self.learner.possible:
            key = submitted_form(id_format, receipt.message_id)
            if key is None:
                continue
            part = self._index[id_format].get(receipt_form(id_format, key) or "")
            if part is not None:
                candidates[id_format] = part
        messages = {id(part.message) for part in candidates.values()}
        if len(messages) > 1:
            return self._hold(receipt)
        if messages:
            if count_evidence and len(candidates) == 1:
                (only,) = candidates
                if self.learner.saw_match(only):
                    self._narrowed()
            self.stats.matched += 1
            return self._apply(next(iter(candidates.values())), receipt)
        return self._pass_on(receipt)

    def _pass_on(self, receipt: Receipt) -> list[Receipt]:
        readings = {
            submitted_form(id_format, receipt.message_id) for id_format in self.learner.possible
        }
        readings.discard(None)
        if not readings:
            self.stats.unreadable += 1
            return []
        if len(readings) > 1:
            return self._hold(receipt)
        (reading,) = readings
        assert reading is not None
        self.stats.passed_on += 1
        return [Receipt(scoped_id(self.scope, reading), receipt.state, receipt.error)]

    def _apply(self, part: _Part, receipt: Receipt) -> list[Receipt]:
        message = part.message
        if len(message.part_ids) == 1:
            if receipt.state.is_final:
                self._forget(message)
            return [Receipt(message.scoped, receipt.state, receipt.error)]
        message.states[part.index] = receipt.state
        finals = [state for state in message.states.values() if state.is_final]
        if len(finals) < len(message.part_ids):
            return []
        self._forget(message)
        worst = next((s for s in _SEVERITY if s in finals), DeliveryState.DELIVERED)
        return [Receipt(message.scoped, worst, receipt.error)]

    # --- held receipts ---------------------------------------------------------------

    def _hold(self, receipt: Receipt) -> list[Receipt]:
        self.stats.ambiguous += 1
        key = held_key(receipt)
        if key not in self._held:
            self._held[key] = receipt
            self._changes.held.append(receipt)
        self._trim_held()
        return []

    def _trim_held(self) -> None:
        while len(self._held) > self.hold_capacity:
            _, oldest = self._held.popitem(last=False)
            self.stats.dropped += 1
            self._changes.released.append(oldest)

    def _resolve_held(self) -> list[Receipt]:
        if self.learner.known is None:
            return []
        held, self._held = self._held, OrderedDict()
        reports: list[Receipt] = []
        for receipt in held.values():
            resolved = self._receive(receipt, count_evidence=False)
            if resolved:
                self.stats.resolved += 1
            reports.extend(resolved)
            self._changes.released.append(receipt)
        return reports

    def _narrowed(self) -> None:
        """The format became known: indexes of the other formats are dead weight."""
        for id_format in CONCRETE_FORMATS:
            if id_format not in self.learner.possible:
                self._index[id_format].clear()

    def _forget(self, message: _Message) -> None:
        self._messages.pop(id(message), None)
        for id_format in self.learner.possible:
            index = self._index[id_format]
            for part_id in message.part_ids:
                key = receipt_form(id_format, part_id)
                part = index.get(key) if key is not None else None
                if part is not None and part.message is message:
                    del index[key]  # type: ignore[arg-type]
