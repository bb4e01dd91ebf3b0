"""Alerts in the console over the real store and alert service: compose with cost,
audience count and sensitive-words warning; four-eyes approval; send, pause, cancel;
the progress endpoint. The audience is a count: no number ever reaches a page."""

from __future__ import annotations

import re
from typing import Any

from gateway.broadcast.subscriptions import SubscriptionService
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore

NUMBERS = [f"+2547000000{n:02d}" for n in range(12)]


async def subscribe_people(backend: SQLStore, settings: Settings, now: float) -> None:
    people = SubscriptionService(
        backend, PhoneHasher(settings.hash_key), NumberVault(settings.encryption_key)
    )
    for index, number in enumerate(NUMBERS):
        topic = "route-alerts" if index % 3 else "trafficking"
        await people.join(number, "africastalking", topic, "en" if index % 2 else "fr", now)


def alert_form(action: str, english: str = "Road to the coast is closed.") -> dict[str, str]:
    return {
        "action": action,
        "text.en": english,
        "text.fr": "La route de la côte est fermée.",
        "topic": "route-alerts",
        "source": "UNHCR field office, phone check",
        "expires_hours": "24",
    }


async def create_alert(operator: Any) -> int:
    response = await operator.post("/console/alerts/new", alert_form("create"))
    assert response.status == 200, await response.text()
    match = re.search(r"/console/alerts/(\d+)$", str(response.url))
    assert match, response.url
    return int(match.group(1))


async def test_compose_preview_shows_cost_audience_and_a_sensitive_opening(
    backend: SQLStore, settings: Settings, clock: Any, signed_in: Any
) -> None:
    await subscribe_people(backend, settings, clock())
    eddie = await signed_in("eddie")
    blank = await eddie.client.get("/console/alerts/new")
    assert blank.status == 200
    assert 'name="topic" value="route-alerts"' in await blank.text()
    response = await eddie.post(
        "/console/alerts/new", alert_form("preview", "Police checks on the coast road tonight.")
    )
    page = await response.text()
    assert "8 subscribers would receive it" in page
    assert "GSM-7 characters, 1 SMS part" in page
    assert "UCS-2 characters" in page  # the French text has ô / é: costs more
    assert "The first words include “Police”" in page
    assert not any(number[1:] in page for number in NUMBERS)


async def test_an_audience_by_country_leaves_out_unknown_countries_unless_asked(
    backend: SQLStore, settings: Settings, clock: Any, signed_in: Any
) -> None:
    people = SubscriptionService(
        backend, PhoneHasher(settings.hash_key), NumberVault(settings.encryption_key)
    )
    for index, number in enumerate(NUMBERS):  # 3 in Italy, 1 in Greece, 8 unknown
        region = "IT" if index < 3 else ("GR" if index == 3 else "")
        await people.join(number, "africastalking", "route-alerts", "en", clock(), region)
    eddie = await signed_in("eddie")
    only_italy = dict(alert_form("preview"), regions="it")
    page = await (await eddie.post("/console/alerts/new", only_italy)).text()
    assert "3 subscribers would receive it: 3 in IT, and 8 whose country is unknown" in page
    assert "(not included)" in page
    with_unknown = dict(only_italy, include_unknown="1")
    page = await (await eddie.post("/console/alerts/new", with_unknown)).text()
    assert "11 subscribers would receive it: 3 in IT, and 8 whose country is unknown" in page
    assert "(included)" in page
    counted = await eddie.client.get(
        "/console/alerts/audience", params={"topic": "route-alerts", "regions": "IT"}
    )
    assert (await counted.json())["count"] == 3
    # The approver sees both counts too, on the saved draft.
    response = await eddie.post("/console/alerts/new", dict(only_italy, action="create"))
    assert "3 in IT, and 8 whose country is unknown (not included)" in await response.text()


async def test_author_cannot_approve_own_alert_and_editor_cannot_approve(
    backend: SQLStore, signed_in: Any
) -> None:
    admin = await signed_in("ada")
    alert_id = await create_alert(admin)
    response = await admin.post(f"/console/alerts/{alert_id}/approve")
    assert response.status == 403
    editor = await signed_in("eddie")
    response = await editor.post(f"/console/alerts/{alert_id}/approve")
    assert response.status == 403
    broadcast = await backend.get_broadcast(alert_id)
    assert broadcast is not None and broadcast.state == "draft"


async def test_approve_send_pause_and_cancel_with_progress(
    backend: SQLStore, clock: Any, settings: Settings, signed_in: Any
) -> None:
    await subscribe_people(backend, settings, clock())
    alert_id = await create_alert(await signed_in("eddie"))
    approver = await signed_in("april")
    for action, state in (("approve", "approved"), ("send", "sending"), ("pause", "paused")):
        response = await approver.post(f"/console/alerts/{alert_id}/{action}")
        assert response.status == 200
        broadcast = await backend.get_broadcast(alert_id)
        assert broadcast is not None and broadcast.state == state, action
    status = await (await approver.client.get(f"/console/alerts/{alert_id}/status")).json()
    assert status["state"] == "paused"
    assert status["total"] == 8 and status["finished"] is False
    page = await approver.page(f"/console/alerts/{alert_id}")
    assert "<progress" in page and "approved by april" in page
    response = await approver.post(f"/console/alerts/{alert_id}/cancel")
    assert "Cancelled" in await response.text()
    status = await (await approver.client.get(f"/console/alerts/{alert_id}/status")).json()
    assert status["finished"] is True
    actions = [e.action for e in await backend.audit_entries()]
    for action in ("alert.create", "alert.approve", "alert.send", "alert.pause", "alert.cancel"):
        assert action in actions
