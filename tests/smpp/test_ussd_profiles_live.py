"""Each USSD-over-SMPP vendor profile walked through the node-smpp simulator playing
that vendor's layout: a session opens, continues and ends; a duplicated session
start is answered once, and so is a "continue" the operator sends again (6d, Mica);
an unknown op code gets a polite end screen."""

from __future__ import annotations

from typing import Any

import pytest

from gateway.sms import encoding
from gateway.ussd.types import USSDReply, USSDRequest
from tests.smpp.smsc_driver import EchoMenu, RecordingSink, Simulator, eventually
from tests.smpp.test_inbound_live import SENDER, SHORT_CODE, bound

CODE = "*384*7#"


def gsm(text: str) -> str:
    return encoding.encode_gsm7(text).hex()


def screen(reply: dict[str, Any]) -> str:
    return encoding.decode(bytes.fromhex(reply["hex"]), reply["dc"])


async def ussd(smsc: Simulator, op: int, text: str, **layout: Any) -> dict[str, Any]:
    return await smsc.command(
        "ussd", source=SENDER, dest=SHORT_CODE, ussd_op=op, hex=gsm(text), **layout
    )


# profile -> (begin op, continue op, session layout of the two inbound PDUs)
WALKS = {
    # 6D: dialog id 0x1234 in the first 15 bits, the last bit "end".
    "6d": (0x01, 0x12, {"session_info": 0x1234 << 1}, {"session_info": 0x1234 << 1}),
    # Mica: source_addr + user_message_reference.
    "mica": (1, 18, {"umr": 4242}, {"umr": 4242}),
    # No session id at all: source + code dialled, within a time window.
    "no-session-id": (1, 18, {}, {}),
}


@pytest.mark.parametrize("name", sorted(WALKS))
async def test_a_session_walks_through_each_vendor_profile(smsc: Simulator, name: str) -> None:
    begin_op, continue_op, first_layout, second_layout = WALKS[name]
    menu = EchoMenu()
    async with bound(smsc, RecordingSink(), menu, ussd_profile=name, service_code=CODE) as pool:
        first = await ussd(smsc, begin_op, CODE, **first_layout)
        again = await ussd(smsc, begin_op, CODE, expect_reply=False, **first_layout)
        second = await ussd(smsc, continue_op, "2", **second_layout)
        odd = await ussd(smsc, 0x42, "9", **second_layout)
    assert first["reply"]["op"] == 2 and screen(first["reply"]).startswith("Welcome")
    assert again["resp"]["status"] == 0  # acknowledged, and answered only once:
    assert [r.user_input for r in menu.requests] == [None, "2"]
    assert pool.routers["sim"].stats["ussd_duplicate_begin"] == 1
    assert second["reply"]["op"] == 17 and screen(second["reply"]) == "You chose 2. Stay safe €"
    assert menu.requests[0].session_id == menu.requests[1].session_id
    assert menu.requests[0].replay_key != menu.requests[1].replay_key
    if name == "6d":
        assert first["reply"]["session_info"] == 0x1234 << 1  # echoed, end bit clear
        assert second["reply"]["session_info"] == (0x1234 << 1) | 1  # end bit set
    if name == "mica":
        assert first["reply"]["umr"] == 4242 and second["reply"]["umr"] == 4242
    assert odd["reply"]["op"] == 17 and screen(odd["reply"]).startswith("Sorry")


async def test_6d_dialogs_of_one_person_stay_apart(smsc: Simulator) -> None:
    menu = EchoMenu()
    async with bound(smsc, RecordingSink(), menu, ussd_profile="6d", service_code=CODE):
        await ussd(smsc, 0x01, CODE, session_info=0x0001 << 1)
        await ussd(smsc, 0x01, CODE, session_info=0x0002 << 1)
        await ussd(smsc, 0x12, "1", session_info=0x0001 << 1)
        await ussd(smsc, 0x81, "", session_info=0x0002 << 1, expect_reply=False)
    one, two, answer = menu.requests
    assert one.session_id != two.session_id and answer.session_id == one.session_id


class ThreeScreens:
    """Welcome, then a second question, then an END naming both answers."""

    def __init__(self) -> None:
        self.requests: list[USSDRequest] = []

    async def handle(self, request: USSDRequest) -> USSDReply:
        self.requests.append(request)
        answers = [r.user_input for r in self.requests if r.session_id == request.session_id]
        if request.user_input is None:
            return USSDReply("Welcome\n1. Hotlines\n2. Safe routes", end=False)
        if len(answers) == 2:
            return USSDReply("Which region?\n1. North\n2. South", end=False)
        return USSDReply(f"You chose {answers[1]} then {answers[2]}", end=True)


# profile -> (begin op, continue op, layout of one dialog, layout of another)
RESENT = {
    "6d": (0x01, 0x12, {"session_info": 0x0101 << 1}, {"session_info": 0x0202 << 1}),
    "mica": (1, 18, {"umr": 501}, {"umr": 502}),
}


@pytest.mark.parametrize("name", sorted(RESENT))
async def test_a_continue_sent_again_is_answered_once_and_is_not_new_input(
    smsc: Simulator, name: str
) -> None:
    """The operator sends the same "continue" PDU again (same session, same
    sequence_number): one screen, and the menu does not see the answer twice. The
    same keys pressed again later come in a new PDU: that is new input."""
    begin_op, continue_op, layout, other = RESENT[name]
    menu = ThreeScreens()
    async with bound(smsc, RecordingSink(), menu, ussd_profile=name, service_code=CODE) as pool:
        await ussd(smsc, begin_op, CODE, sequence=100, **layout)
        second = await ussd(smsc, continue_op, "1", sequence=101, **layout)
        again = await ussd(smsc, continue_op, "1", sequence=101, expect_reply=False, **layout)
        third = await ussd(smsc, continue_op, "1", sequence=102, **layout)
        # Sent again after our last screen ended the session: still the same answer.
        after_end = await ussd(smsc, continue_op, "1", sequence=102, expect_reply=False, **layout)
        # A new dialog: its first screen arrives after anything sent for the resends.
        fresh = await ussd(smsc, begin_op, CODE, sequence=103, **other)
        replies = (await smsc.stats())["ussd_replies"]
    assert screen(second["reply"]).startswith("Which region?")
    assert again["resp"]["status"] == 0 and after_end["resp"]["status"] == 0
    assert screen(third["reply"]) == "You chose 1 then 1" and third["reply"]["op"] == 17
    assert screen(fresh["reply"]).startswith("Welcome")
    assert [r.user_input for r in menu.requests] == [None, "1", "1", None]
    assert replies == 4  # one screen per exchange: none for the two resends
    assert pool.routers["sim"].stats["ussd_duplicate_continue"] == 2


@pytest.mark.parametrize("name", sorted(RESENT))
async def test_a_continue_sent_again_after_our_screen_was_refused_gets_that_screen(
    smsc: Simulator, name: str
) -> None:
    begin_op, continue_op, layout, _ = RESENT[name]
    menu = ThreeScreens()
    async with bound(smsc, RecordingSink(), menu, ussd_profile=name, service_code=CODE) as pool:
        router = pool.routers["sim"]
        await ussd(smsc, begin_op, CODE, sequence=200, **layout)
        await smsc.configure(final_every=1)  # the SMSC refuses our next screen
        await ussd(smsc, continue_op, "2", sequence=201, expect_reply=False, **layout)
        await eventually(lambda: router.stats["ussd_replies_refused"] == 1)
        await smsc.configure(final_every=0)
        again = await ussd(smsc, continue_op, "2", sequence=201, **layout)
    assert again["reply"] is not None and screen(again["reply"]).startswith("Which region?")
    if name == "6d":
        assert again["reply"]["session_info"] == layout["session_info"]
    else:
        assert again["reply"]["umr"] == layout["umr"]
    assert [r.user_input for r in menu.requests] == [None, "2"]  # not new input
    assert router.stats["ussd_duplicate_continue"] == 1
