"""With no SMS channel, nothing promises an SMS; every reply not sent is counted."""

from __future__ import annotations

from typing import Any

from gateway.menu.model import Tree
from gateway.menu.sms_availability import without_sms_copies
from gateway.server.app import create_app
from gateway.settings import Settings
from tests.ussd.test_at_endpoint import SECRET, form, post


def test_a_tree_without_sms_offers_no_send_by_sms_option(sample_tree: Tree) -> None:
    served = without_sms_copies(sample_tree)
    for screen in served.screens.values():
        for option in screen.options:
            assert served.screens[option.goto].action is None or "sms" not in option.goto
    assert [o.key for o in served.screens["hotlines"].options] == ["1"]
    assert [o.key for o in sample_tree.screens["hotlines"].options] == ["1", "2"]


async def test_without_a_channel_the_hotlines_offer_no_sms_and_keyword_replies_are_counted(
    aiohttp_client: Any, settings: Settings
) -> None:
    assert settings.sms_channel in ("auto", "none") and not settings.smsc
    client = await aiohttp_client(await create_app(settings))
    await post(client, form("", session="s"))
    await post(client, form("1", session="s"))
    status, hotlines = await post(client, form("1*1", session="s"))
    assert status == 200 and "SMS" not in hotlines and "1 Other country" in hotlines
    response = await client.post(
        "/africastalking/sms",
        data={"from": "+254711000111", "to": "384", "text": "HELP", "id": "h1", "date": "x"},
        headers={"X-Callback-Key": SECRET},
    )
    assert response.status == 200
    metrics = await (await client.get("/metrics")).text()
    assert 'gateway_sms_replies_unsent_total{reason="no_sms_channel"} 1.0' in metrics
