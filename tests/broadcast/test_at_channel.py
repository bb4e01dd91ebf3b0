"""The Africa's Talking SMS channel: sending against the double, and the callbacks."""

from __future__ import annotations

import pytest

from gateway.africastalking.sms_callbacks import delivery_state
from gateway.africastalking.sms_sender import AfricasTalkingSMS, _result
from gateway.settings import Secret
from gateway.sms.messages import DeliveryState, OutboundSMS, SendOutcome
from tests.broadcast.conftest import CALLBACK_SECRET, Harness, number


async def test_bulk_send_groups_by_text_and_maps_each_recipient(harness: Harness) -> None:
    harness.double.blacklist.add(number(2))
    messages = [
        OutboundSMS("a", number(1), "hello"),
        OutboundSMS("b", number(2), "hello"),
        OutboundSMS("c", number(3), "bonjour"),
    ]
    results = await harness.sender.send(messages)
    assert [r.reference for r in results] == ["a", "b", "c"]
    assert [r.outcome for r in results] == [
        SendOutcome.ACCEPTED,
        SendOutcome.OPTED_OUT,
        SendOutcome.ACCEPTED,
    ]
    assert results[0].message_ids and results[0].message_ids != results[2].message_ids
    assert harness.double.requests == 2


async def test_wrong_api_key_is_a_temporary_failure_without_numbers_in_errors(
    harness: Harness,
) -> None:
    bad = AfricasTalkingSMS(
        harness.http, harness.sender._url, harness.double.username, Secret("wrong")
    )
    results = await bad.send([OutboundSMS("a", number(1), "hello")])
    assert results[0].outcome is SendOutcome.RETRY
    assert "2547" not in results[0].error


async def test_unreachable_channel_is_a_temporary_failure(harness: Harness) -> None:
    gone = AfricasTalkingSMS(
        harness.http, "http://127.0.0.1:9/version1/messaging", "sandbox", Secret("k")
    )
    results = await gone.send([OutboundSMS("a", number(1), "hello")])
    assert results[0].outcome is SendOutcome.RETRY


@pytest.mark.parametrize(
    ("code", "status", "outcome"),
    [
        (101, "Success", SendOutcome.ACCEPTED),
        (102, "Queued", SendOutcome.ACCEPTED),
        (406, "UserInBlacklist", SendOutcome.OPTED_OUT),
        (405, "InsufficientBalance", SendOutcome.RETRY),
        (500, "InternalServerError", SendOutcome.RETRY),
        (403, "InvalidPhoneNumber", SendOutcome.FAILED),
        ("x", "", SendOutcome.FAILED),
    ],
)
def test_status_codes(code: object, status: str, outcome: SendOutcome) -> None:
    entry = {"statusCode": code, "status": status, "messageId": "id1", "number": "+1"}
    assert _result("r", entry).outcome is outcome


def test_delivery_statuses() -> None:
    assert delivery_state("Success", "") is DeliveryState.DELIVERED
    assert delivery_state("Failed", "UserInBlackList") is DeliveryState.OPTED_OUT
    assert delivery_state("Rejected", "") is DeliveryState.REJECTED
    assert delivery_state("Buffered", "") is DeliveryState.BUFFERED
    assert delivery_state("Sent", "") is DeliveryState.SUBMITTED
    assert delivery_state("Nonsense", "") is None


@pytest.mark.parametrize("path", ["", "/delivery", "/optout"])
async def test_callbacks_without_the_secret_get_403(harness: Harness, path: str) -> None:
    form = {"from": number(1), "to": "1", "id": "x", "status": "Success", "phoneNumber": "1"}
    for suffix, headers in [
        ("", {}),
        ("?key=wrong", {}),
        ("", {"X-Callback-Key": "wrong"}),
    ]:
        response = await harness.http.post(
            f"{harness.callback_base}{path}{suffix}", data=form, headers=headers
        )
        assert response.status == 403
    assert await harness.store.fetchall("SELECT * FROM inbound_messages") == []


async def test_secret_in_header_is_accepted(harness: Harness) -> None:
    response = await harness.http.post(
        harness.callback_base,
        data={"from": number(1), "to": "1", "id": "h1", "text": "HELP"},
        headers={"X-Callback-Key": CALLBACK_SECRET},
    )
    assert response.status == 200


async def test_missing_fields_get_400_and_nothing_is_stored(harness: Harness) -> None:
    response = await harness.http.post(
        f"{harness.callback_base}?key={CALLBACK_SECRET}", data={"text": "STOP", "to": "1"}
    )
    assert response.status == 400
    assert "from" in await response.text()
    response = await harness.http.post(
        f"{harness.callback_base}/delivery?key={CALLBACK_SECRET}",
        data={"id": "x", "status": "Exploded"},
    )
    assert response.status == 400
    assert await harness.store.fetchall("SELECT * FROM inbound_messages") == []
    assert await harness.store.fetchall("SELECT * FROM delivery_events") == []


async def test_blacklist_receipt_opts_the_subscriber_out(harness: Harness) -> None:
    await harness.seed(1)
    response = await harness.http.post(
        f"{harness.callback_base}/delivery?key={CALLBACK_SECRET}",
        data={
            "id": "ATXid_x",
            "status": "Failed",
            "failureReason": "UserInBlackList",
            "phoneNumber": number(0),
        },
    )
    assert response.status == 200
    person = await harness.store.get_subscriber(harness.subscriptions.hash(number(0)))
    assert person is not None and person.opted_out_at is not None
