"""An alert on its way out as the console sends one: drafted by alice, approved and sent
by bob (four eyes), for the tests that need a broadcast in the outbox."""

from __future__ import annotations

import time

from gateway.broadcast.alert_service import AlertDraft, AlertService

ROAD_CLOSED = {"en": "Road closed at the bridge"}
ROAD_CLOSED_FR = {**ROAD_CLOSED, "fr": "Route fermée au pont"}


async def sent_alert(
    alerts: AlertService,
    texts: dict[str, str] = ROAD_CLOSED,
    topics: tuple[str, ...] = ("hotlines",),
    expires_in: float = 3600.0,
) -> int:
    """The id of an alert sent now (in English unless ``texts`` say more)."""
    now = time.time()
    draft = AlertDraft(
        texts=dict(texts),
        fallback_language="en",
        topics=topics,
        source="desk",
        author="alice",
        expires_at=now + expires_in,
    )
    alert = await alerts.create(draft, now)
    await alerts.approve(alert, "bob", now)
    await alerts.send(alert, "bob", now)
    return alert
