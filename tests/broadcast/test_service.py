from __future__ import annotations

import pytest

from gateway.broadcast.alert_service import AlertDraft
from gateway.broadcast.errors import (
    AlertExpired,
    BroadcastNotFound,
    InvalidAlert,
    InvalidTransition,
    SelfApproval,
)
from tests.broadcast.conftest import Harness

NOW = 1_800_000_000.0


def draft(**changes: object) -> AlertDraft:
    values: dict[str, object] = {
        "texts": {"en": "Road closed at the bridge", "fr": "Route fermée au pont"},
        "fallback_language": "en",
        "topics": ("route-east-africa",),
        "source": "Red Cross desk, checked by phone",
        "author": "alice",
        "expires_at": NOW + 3600,
    }
    values.update(changes)
    return AlertDraft(**values)  # type: ignore[arg-type]


async def test_author_cannot_approve_own_alert(harness: Harness) -> None:
    alert = await harness.alerts.create(draft(), NOW)
    with pytest.raises(SelfApproval):
        await harness.alerts.approve(alert, "alice", NOW)
    status = await harness.alerts.status(alert)
    assert status.state == "draft"
    await harness.alerts.approve(alert, "bob", NOW)
    assert (await harness.alerts.status(alert)).approver == "bob"


async def test_expired_alert_cannot_be_approved_or_sent(harness: Harness) -> None:
    alert = await harness.alerts.create(draft(expires_at=NOW + 10), NOW)
    await harness.alerts.approve(alert, "bob", NOW)
    with pytest.raises(AlertExpired):
        await harness.alerts.send(alert, "bob", NOW + 10)
    assert (await harness.alerts.status(alert)).state == "approved"
    late = await harness.alerts.create(draft(expires_at=NOW + 10), NOW)
    with pytest.raises(AlertExpired):
        await harness.alerts.approve(late, "bob", NOW + 11)


async def test_unapproved_alert_cannot_be_sent(harness: Harness) -> None:
    alert = await harness.alerts.create(draft(), NOW)
    with pytest.raises(InvalidTransition):
        await harness.alerts.send(alert, "bob", NOW)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"topics": ()}, "topic"),
        ({"topics": ("no-such-topic",)}, "unknown topic"),
        ({"texts": {"fr": "x"}}, "fallback"),
        ({"source": "  "}, "source"),
        ({"expires_at": NOW - 1}, "past"),
        ({"texts": {"en": "x" * 601}}, "600"),
    ],
)
async def test_bad_alerts_are_refused_with_a_reason(
    harness: Harness, changes: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidAlert, match=message):
        await harness.alerts.create(draft(**changes), NOW)
    assert await harness.alerts.list() == []


async def test_every_action_is_in_the_audit_chain(harness: Harness) -> None:
    alert = await harness.alerts.create(draft(), NOW)
    with pytest.raises(SelfApproval):
        await harness.alerts.approve(alert, "alice", NOW)
    await harness.alerts.approve(alert, "bob", NOW + 1)
    await harness.alerts.send(alert, "bob", NOW + 2)
    await harness.alerts.pause(alert, "carol", NOW + 3)
    await harness.alerts.cancel(alert, "carol", NOW + 4)
    entries = await harness.store.audit_entries()
    assert [(e.actor, e.action) for e in entries] == [
        ("alice", "alert.create"),
        ("alice", "alert.approve_refused"),
        ("bob", "alert.approve"),
        ("bob", "alert.send"),
        ("carol", "alert.pause"),
        ("carol", "alert.cancel"),
    ]
    assert (await harness.store.verify_audit_chain()).ok


async def test_status_reports_audience_count_before_sending(harness: Harness) -> None:
    await harness.seed(3, topic="route-east-africa")
    alert = await harness.alerts.create(draft(), NOW)
    status = await harness.alerts.status(alert)
    assert status.audience == 3 and status.counts["queued"] == 0


async def test_unknown_alert(harness: Harness) -> None:
    with pytest.raises(BroadcastNotFound):
        await harness.alerts.status(999)
