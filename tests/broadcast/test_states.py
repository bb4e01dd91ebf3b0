from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.broadcast.errors import InvalidTransition
from gateway.broadcast.states import (
    TRANSITIONS,
    BroadcastEvent,
    BroadcastState,
    allowed_events,
    transition,
)

events = st.lists(st.sampled_from(list(BroadcastEvent)), max_size=30)


@settings(max_examples=200)
@given(events)
def test_any_event_sequence_follows_the_table_and_terminal_states_never_move(
    sequence: list[BroadcastEvent],
) -> None:
    state = BroadcastState.DRAFT
    sent = False
    for event in sequence:
        if (state, event) in TRANSITIONS:
            new = transition(state, event)
            assert not state.is_terminal
            sent = sent or new is BroadcastState.SENDING
            state = new
        else:
            with pytest.raises(InvalidTransition):
                transition(state, event)
    # Nothing reaches sending or done without an approval first.
    if sent or state is BroadcastState.DONE:
        assert BroadcastEvent.APPROVE in sequence


def test_terminal_states_allow_nothing() -> None:
    assert allowed_events(BroadcastState.DONE) == ()
    assert allowed_events(BroadcastState.CANCELLED) == ()


def test_draft_cannot_be_sent_without_approval() -> None:
    with pytest.raises(InvalidTransition, match="cannot send an alert that is draft"):
        transition(BroadcastState.DRAFT, BroadcastEvent.SEND)


def test_paused_alert_resumes() -> None:
    assert transition(BroadcastState.PAUSED, BroadcastEvent.SEND) is BroadcastState.SENDING
