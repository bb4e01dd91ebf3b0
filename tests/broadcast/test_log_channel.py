"""The ``log`` SMS channel writes messages to a file under the data folder, numbers
hashed; and each channel reports whether it can send."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

from gateway.privacy.numbers import PhoneHasher
from gateway.server.sms_channel import channel_statuses, open_sms_sender, sms_log_path
from gateway.settings import Secret, Settings
from gateway.sms.messages import OutboundSMS, SendOutcome
from tests.broadcast.conftest import HASH_KEY, number


async def test_the_log_channel_writes_hashed_numbers_and_never_a_number(tmp_path: Path) -> None:
    settings = Settings.from_env({"GATEWAY_SMS_CHANNEL": "log", "GATEWAY_DATA_DIR": str(tmp_path)})
    hasher = PhoneHasher(Secret(HASH_KEY))
    long_text = "Road closed at the bridge. " * 8
    async with open_sms_sender(settings, None, hasher.hash) as (family, sender):
        results = await sender.send(
            [OutboundSMS("1", number(1), "Info: hello"), OutboundSMS("2", number(2), long_text)]
        )
    assert family == "log"
    assert [r.outcome for r in results] == [SendOutcome.ACCEPTED] * 2
    assert results[0].message_ids != results[1].message_ids
    text = sms_log_path(settings).read_text(encoding="utf-8")
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["parts"] for line in lines] == [1, 2]
    assert lines[0]["to_hash"] == hasher.hash(number(1))[:16]
    assert number(1) not in text and number(1).lstrip("+") not in text
    assert number(2)[-8:] not in text


def test_each_channel_says_whether_it_can_send(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    (none,) = channel_statuses(settings, "none")
    assert not none.working and none.state == "off"
    (at,) = channel_statuses(settings, "africastalking")
    assert not at.working and "GATEWAY_AT_API_KEY" in at.detail
    (at,) = channel_statuses(replace(settings, at_api_key=Secret("k")), "africastalking")
    assert at.working
    binds = [
        {"smsc": "op1", "mode": "transceiver", "bound": True},
        {"smsc": "op1", "mode": "transceiver", "bound": False, "last_error": "refused"},
        {"smsc": "op2", "mode": "transmitter", "bound": False, "last_error": "LinkError: x"},
        {"smsc": "op2", "mode": "receiver", "bound": True},  # cannot send
    ]
    op1, op2 = channel_statuses(settings, "smpp", binds)
    assert (op1.name, op1.state, op1.working) == ("smpp:op1", "up", True)
    assert op1.detail == "1 of 2 transmitting binds bound"
    assert (op2.name, op2.state, op2.working, op2.detail) == (
        "smpp:op2",
        "down",
        False,
        "LinkError: x",
    )
    (log,) = channel_statuses(settings, "log")
    assert log.working
