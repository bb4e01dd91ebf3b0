"""The console tells the truth about sending: which channel, whether it works, and
progress from stored row states only."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.console.ports import ConsoleHooks
from gateway.console.progress import progress_of
from gateway.settings import Settings
from gateway.sms.channel_status import ChannelStatus, refusal
from gateway.store.sql_store import SQLStore
from tests.console.test_alerts import create_alert, subscribe_people

DOWN = ChannelStatus("smpp:op1", "down", False, "connected, but no bind_resp within 10 s")
LOG = ChannelStatus("log", "up", True, "demo: written to sms-log.jsonl")


async def test_send_with_no_working_channel_is_refused_with_the_reason(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    await subscribe_people(backend, settings, clock())
    channels = [DOWN]
    app = app_factory(backend, clock, settings, ConsoleHooks(channel_states=lambda: channels))
    alert_id = await create_alert(await signed_in("eddie", app))
    approver = await signed_in("april", app)
    await approver.post(f"/console/alerts/{alert_id}/approve")
    page = await (await approver.post(f"/console/alerts/{alert_id}/send")).text()
    assert "Not sent: no SMS channel can send right now" in page
    assert "smpp:op1 is down: connected, but no bind_resp within 10 s" in page
    assert "Sending started" not in page
    broadcast = await backend.get_broadcast(alert_id)
    assert broadcast is not None and broadcast.state == "approved"  # nothing changed
    dashboard = await approver.page("/console/")
    assert 'data-channel="smpp:op1"' in dashboard and "Alerts cannot be sent" in dashboard

    channels = [DOWN, LOG]  # one works: sending may start, and says through what
    page = await (await approver.post(f"/console/alerts/{alert_id}/send")).text()
    assert "Sending started through smpp:op1 down, log up." in page
    assert 'data-channel="log"' in page
    broadcast = await backend.get_broadcast(alert_id)
    assert broadcast is not None and broadcast.state == "sending"


def test_refusal_names_every_channel_or_says_none_is_configured() -> None:
    assert refusal([LOG]) is None
    assert refusal([]) == "no SMS channel is configured (GATEWAY_SMS_CHANNEL)"
    assert "smpp:op1 is down" in (refusal([DOWN]) or "")


def test_no_rows_yet_is_zero_percent_not_a_full_bar() -> None:
    """The reported bug: "6 of 6 sent (100%)" with every count zero."""
    progress = progress_of("sending", 6, {"queued": 0})
    assert (progress.processed, progress.percent, progress.finished) == (0, 0, False)
    assert progress.summary.startswith("0 of 6 sent (0%)")


ROW_MOVES = {
    "queued": ("claimed",),
    "claimed": ("queued", "submitted", "failed", "opted_out"),
    "submitted": ("delivered", "failed", "expired", "unknown"),
}


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=1, max_value=40),
    st.lists(st.tuples(st.integers(0, 39), st.integers(0, 3)), max_size=200),
    st.integers(min_value=0, max_value=40),
)
def test_progress_never_goes_backwards(
    audience: int, moves: list[tuple[int, int]], expanded_per_step: int
) -> None:
    rows: list[str] = []
    last = (0, 0)
    for row, choice in moves:
        # The outbox grows as the audience is written to it, rows move forward (a lease
        # that runs out puts a claimed row back in the queue).
        while len(rows) < min(audience, len(rows) + expanded_per_step + 1):
            rows.append("queued")
        index = row % len(rows)
        options = ROW_MOVES.get(rows[index], ())
        if options:
            rows[index] = options[choice % len(options)]
        counts: dict[str, int] = {}
        for state in rows:
            key = "queued" if state in ("queued", "claimed") else state
            counts[key] = counts.get(key, 0) + 1
        progress = progress_of("sending", audience, counts)
        assert progress.processed >= last[0] and progress.percent >= last[1]
        assert progress.processed <= progress.total == audience
        last = (progress.processed, progress.percent)
