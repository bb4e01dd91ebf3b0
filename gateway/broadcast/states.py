"""The alert life cycle as one table. Pure: no I/O, no clock.

::

    draft ──approve──▶ approved ──send──▶ sending ──finish / expire──▶ done
      │                   │               │   ▲
      │                   │             pause send
      │                   │               ▼   │
      │                   │              paused ──expire──▶ done
      └──────cancel───────┴──────cancel───┴─────▶ cancelled

Guards that need more than the state (the approver is not the author, the alert has
not expired) live in :mod:`gateway.broadcast.alert_service`.
"""

from __future__ import annotations

from enum import StrEnum

from gateway.broadcast.errors import InvalidTransition


class BroadcastState(StrEnum):
    DRAFT = "draft"
    APPROVED = "approved"
    SENDING = "sending"
    PAUSED = "paused"
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def is_terminal(self) -> bool:
        return self in (BroadcastState.DONE, BroadcastState.CANCELLED)


class BroadcastEvent(StrEnum):
    APPROVE = "approve"
    SEND = "send"
    PAUSE = "pause"
    FINISH = "finish"
    EXPIRE = "expire"
    CANCEL = "cancel"


_S = BroadcastState
_E = BroadcastEvent

TRANSITIONS: dict[tuple[BroadcastState, BroadcastEvent], BroadcastState] = {
    (_S.DRAFT, _E.APPROVE): _S.APPROVED,
    (_S.DRAFT, _E.CANCEL): _S.CANCELLED,
    (_S.APPROVED, _E.SEND): _S.SENDING,
    (_S.APPROVED, _E.CANCEL): _S.CANCELLED,
    (_S.SENDING, _E.PAUSE): _S.PAUSED,
    (_S.SENDING, _E.FINISH): _S.DONE,
    (_S.SENDING, _E.EXPIRE): _S.DONE,
    (_S.SENDING, _E.CANCEL): _S.CANCELLED,
    (_S.PAUSED, _E.SEND): _S.SENDING,
    (_S.PAUSED, _E.EXPIRE): _S.DONE,
    (_S.PAUSED, _E.CANCEL): _S.CANCELLED,
}


def transition(state: BroadcastState, event: BroadcastEvent) -> BroadcastState:
    """The state after ``event``, or :class:`InvalidTransition`."""
    try:
        return TRANSITIONS[(state, event)]
    except KeyError:
        raise InvalidTransition(f"cannot {event.value} an alert that is {state.value}") from None


def allowed_events(state: BroadcastState) -> tuple[BroadcastEvent, ...]:
    return tuple(event for (source, event) in TRANSITIONS if source is state)
