"""What the SMSC delivers, against node-smpp: MO SMS, duplicates, USSD sessions."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from gateway.smpp.pool import SMPPPool
from gateway.sms import encoding
from gateway.sms.segmentation import SplitMode, plan
from gateway.ussd.types import USSDHandler
from tests.smpp.smsc_driver import (
    FAST,
    EchoMenu,
    RecordingSink,
    Simulator,
    eventually,
    smsc_settings,
)

SENDER = "254711000111"
SHORT_CODE = "3030"


@asynccontextmanager
async def bound(
    smsc: Simulator, sink: Any = None, handler: USSDHandler | None = None, **settings: Any
) -> AsyncIterator[SMPPPool]:
    """A pool bound to ``smsc`` (10 s at most), stopped on leaving."""
    pool = SMPPPool([smsc_settings(smsc.port, **settings)], sink, handler, tuning=FAST)
    await pool.start()
    try:
        async with asyncio.timeout(10):
            await pool.wait_bound()
        yield pool
    finally:
        await pool.stop()


async def ussd(smsc: Simulator, op: int, session_info: int, typed: str, **more: Any) -> Any:
    """The SMSC hands the gateway one USSD PDU from SENDER to SHORT_CODE; its answer."""
    return await smsc.command(
        "ussd",
        source=SENDER,
        dest=SHORT_CODE,
        ussd_op=op,
        session_info=session_info,
        hex=encoding.encode_gsm7(typed).hex(),
        **more,
    )


def mo_parts(text: str, mode: SplitMode, reference: int) -> list[dict[str, Any]]:
    pdus = []
    for part in plan(text, mode, reference):
        spec: dict[str, Any] = {
            "source": SENDER,
            "dest": SHORT_CODE,
            "hex": part.short_message.hex(),
            "dc": part.data_coding,
            "esm_class": part.esm_class,
        }
        if part.concatenation is not None:
            joined = part.concatenation
            spec["sar"] = [joined.reference, joined.total, joined.sequence]
        pdus.append(spec)
    return pdus


async def test_mo_single_and_long_messages_are_reassembled_and_stored(smsc: Simulator) -> None:
    sink = RecordingSink()
    texts = {
        "single": "HELP",
        "udh": "Where is the nearest clinic? " * 8 + "€{}",
        "sar": "أين أقرب عيادة؟ 😀 " * 6,
    }
    async with bound(smsc, sink):
        await smsc.command("mo", pdus=mo_parts(texts["single"], SplitMode.UDH, 1))
        parts = mo_parts(texts["udh"], SplitMode.UDH, 77)
        await smsc.command("mo", pdus=list(reversed(parts)))  # out of order on purpose
        await smsc.command("mo", pdus=mo_parts(texts["sar"], SplitMode.SAR, 78))
    assert [m.text for m in sink.messages] == list(texts.values())
    assert {m.channel for m in sink.messages} == {"smpp:sim"}
    assert {m.recipient for m in sink.messages} == {SHORT_CODE}
    assert all(m.sender == "+" + SENDER for m in sink.messages)  # as E.164
    assert len({m.message_id for m in sink.messages}) == 3
    assert all(SENDER not in m.message_id for m in sink.messages)


async def test_a_redelivered_mo_is_stored_once(smsc: Simulator) -> None:
    sink = RecordingSink()
    async with bound(smsc, sink):
        single = mo_parts("STOP", SplitMode.UDH, 1)
        long = mo_parts("x" * 200, SplitMode.UDH, 5)
        reply = await smsc.command("mo", pdus=single + single + long + long)
    assert [r["status"] for r in reply["results"]] == [0] * 6  # every copy acknowledged
    assert [m.text for m in sink.messages] == ["STOP", "x" * 200]


async def test_deliver_sm_resp_goes_out_only_after_the_sink_returned(smsc: Simulator) -> None:
    sink = RecordingSink(delay=0.4)
    async with bound(smsc, sink):
        reply = await smsc.command("mo", pdus=mo_parts("slow store", SplitMode.UDH, 1))
    assert reply["results"][0]["ms"] >= 400
    assert [m.text for m in sink.messages] == ["slow store"]


async def test_a_failing_sink_gets_a_temporary_error_so_the_smsc_retries(
    smsc: Simulator,
) -> None:
    class BrokenSink(RecordingSink):
        async def on_inbound_sms(self, message: Any) -> None:
            raise OSError("disk full")

    async with bound(smsc, BrokenSink()):
        reply = await smsc.command("mo", pdus=mo_parts("lost?", SplitMode.UDH, 1))
    assert reply["results"][0]["status"] == 0x64  # ESME_RX_T_APPN: try again later


async def test_ussd_session_over_smpp_3gpp_profile(smsc: Simulator) -> None:
    menu = EchoMenu()
    async with bound(smsc, RecordingSink(), menu):
        first = await ussd(smsc, 1, 0x2A00, "*384*7#")
        second = await ussd(smsc, 18, 0x2A02, "2")
    assert first["resp"]["status"] == 0 and first["resp_before_reply"]
    assert first["reply"]["op"] == 2  # USSR request: the session goes on
    assert first["reply"]["session_info"] == 0x2A00  # echoed, end bit clear
    assert first["reply"]["source"] == SHORT_CODE
    assert encoding.decode(bytes.fromhex(first["reply"]["hex"]), 0).startswith("Welcome")
    assert second["reply"]["op"] == 17  # PSSR response: the last screen
    assert second["reply"]["session_info"] == 0x2A03  # end bit set
    assert encoding.decode(bytes.fromhex(second["reply"]["hex"]), 0) == "You chose 2. Stay safe €"
    begin, answer = menu.requests
    assert begin.user_input is None and begin.service_code == "*384*7#"
    assert answer.user_input == "2" and answer.session_id == begin.session_id
    assert begin.channel == "smpp:sim" and begin.msisdn == "+" + SENDER
    assert SENDER not in begin.session_id
    assert begin.replay_key != answer.replay_key


async def test_vendor_profile_user_abort_ends_the_session_without_a_reply(
    smsc: Simulator,
) -> None:
    menu = EchoMenu()
    async with bound(smsc, RecordingSink(), menu, ussd_profile="vendor-0x81"):
        await ussd(smsc, 1, 0x0100, "*384#")
        abort = await ussd(smsc, 0x81, 0x0102, "", expect_reply=False)
        # After an abort the next "continue" starts afresh instead of resuming.
        again = await ussd(smsc, 18, 0x0104, "1")
    assert abort["resp"]["status"] == 0
    assert len(menu.requests) == 2
    assert menu.requests[1].session_id != menu.requests[0].session_id
    assert again["reply"] is not None


async def test_walk_the_sample_menu_tree_over_smpp(smsc: Simulator, tmp_path: Any) -> None:
    from gateway.menu.effect_port import RecordingEffectHandler
    from gateway.menu.pages import Limit
    from gateway.menu.validator import load_valid_tree
    from gateway.privacy.numbers import PhoneHasher
    from gateway.settings import PROJECT_ROOT, Secret
    from gateway.ussd.service import USSDService
    from gateway.ussd.sessions import MemorySessionStore

    tree = load_valid_tree(
        PROJECT_ROOT / "menus" / "safe-journey.yaml", PROJECT_ROOT / "content", Limit()
    )
    effects = RecordingEffectHandler()
    service = USSDService(
        lambda: tree, MemorySessionStore(), PhoneHasher(Secret("k" * 32)), effects
    )
    screens: list[tuple[str, int]] = []
    async with bound(smsc, RecordingSink(), service):
        info = 0x0700
        for op, typed in [(1, "*384#"), (18, "1"), (18, "1"), (18, "2")]:
            reply = await ussd(smsc, op, info, typed)
            info += 2
            body = bytes.fromhex(reply["reply"]["hex"])
            screens.append((encoding.decode(body, reply["reply"]["dc"]), reply["reply"]["op"]))
            if reply["reply"]["op"] == 17:
                break
    texts = [text for text, _ in screens]
    assert "Language" in texts[0]
    assert "Safe journey info" in texts[1]
    assert "Hotlines" in texts[2]
    assert "SMS" in texts[3] and screens[3][1] == 17
    assert [op for _, op in screens[:3]] == [2, 2, 2]
    assert effects.handled, "the sms_copy effect ran once the screen was stored"


async def test_mo_on_a_transceiver_with_no_sink_is_refused_not_lost(smsc: Simulator) -> None:
    async with bound(smsc, None):
        reply = await smsc.command("mo", pdus=mo_parts("hello", SplitMode.UDH, 1))
    assert reply["results"][0]["status"] == 0x64


async def test_receipts_for_a_long_message_give_one_status(smsc: Simulator) -> None:
    from gateway.sms.messages import DeliveryState, OutboundSMS

    await smsc.configure(dlr=True, dlr_id_format="hex")
    sink = RecordingSink()
    async with bound(smsc, sink) as pool:
        (result,) = await pool.send([OutboundSMS("long", "254700000009", "y" * 400)])

        async def all_receipts_acknowledged() -> bool:
            # The resp goes out only once a receipt was handled, so this means all 3 were.
            return bool((await smsc.stats())["dlrs_acked"] == 3)

        await eventually(all_receipts_acknowledged)
    assert len(result.message_ids) == 3
    assert len(sink.reports) == 1
    assert sink.reports[0].message_id == result.message_ids[0]
    assert sink.reports[0].state is DeliveryState.DELIVERED


async def test_receiver_and_transmitter_entries_share_receipts_and_ussd_replies(
    smsc: Simulator,
) -> None:
    from gateway.sms.messages import DeliveryState, OutboundSMS

    await smsc.configure(dlr=True)
    sink, menu = RecordingSink(), EchoMenu()
    pool = SMPPPool(
        [
            smsc_settings(smsc.port, name="rx", bind_mode="receiver"),
            smsc_settings(smsc.port, name="tx", bind_mode="transmitter"),
        ],
        sink,
        menu,
        tuning=FAST,
    )
    await pool.start()
    try:
        async with asyncio.timeout(10):
            await pool.wait_bound()
        (sent,) = await pool.send([OutboundSMS("r1", "254700000001", "via tx")])
        await eventually(lambda: len(sink.reports) == 1)
        reply = await ussd(smsc, 1, 0x0300, "*384#")
    finally:
        await pool.stop()
    assert sink.reports[0].message_id == sent.message_ids[0]
    assert sink.reports[0].state is DeliveryState.DELIVERED
    assert sink.reports[0].channel == "smpp:rx"  # it came in on the receiver bind
    assert reply["reply"]["op"] == 2  # answered through the transmitter bind
    assert [s["mode"] for s in pool.status()] == ["receiver", "transmitter"]


async def test_no_phone_number_reaches_a_log_line(smsc: Simulator) -> None:
    from structlog.testing import capture_logs

    from gateway.sms.messages import OutboundSMS

    await smsc.configure(dlr=True, throttle_every=3)
    sink = RecordingSink()
    with capture_logs() as logs:
        async with bound(smsc, sink, EchoMenu()) as pool:
            await pool.send(
                [OutboundSMS("p1", SENDER, "to the number"), OutboundSMS("p2", "x", "")]
            )
            await smsc.command("mo", pdus=mo_parts("from the number", SplitMode.UDH, 3))
            await ussd(smsc, 1, 0x0500, "*384#")
            await smsc.command("raw", hex="ffffffff")  # a protocol error, logged
            await eventually(lambda: pool.status()[0]["connects"] >= 2)
    assert logs, "the link logged its life"
    assert all(SENDER not in repr(entry) for entry in logs)
    assert SENDER not in repr(sink.messages)


async def test_a_redelivered_ussd_request_carries_the_same_replay_key(smsc: Simulator) -> None:
    from gateway.ussd.types import USSDReply, USSDRequest

    class Counter:
        def __init__(self) -> None:
            self.requests: list[USSDRequest] = []

        async def handle(self, request: USSDRequest) -> USSDReply:
            self.requests.append(request)
            return USSDReply(f"screen {len(self.requests)}", end=False)

    handler = Counter()
    async with bound(smsc, RecordingSink(), handler):
        for op, info, typed in [(1, 0x0900, "*384#"), (18, 0x0902, "1"), (18, 0x0902, "1")]:
            await ussd(smsc, op, info, typed)
    begin, answer, again = handler.requests
    assert answer.replay_key == again.replay_key != begin.replay_key
    assert answer.session_id == again.session_id == begin.session_id


async def test_an_unknown_op_code_gets_a_polite_end_screen(smsc: Simulator) -> None:
    menu = EchoMenu()
    async with bound(smsc, RecordingSink(), menu):  # 3gpp: 0x42 means nothing
        odd = await ussd(smsc, 0x42, 0x0300, "1")
    assert odd["resp"]["status"] == 0
    assert odd["reply"]["op"] == 17  # the final-screen op code: the session ends
    assert encoding.decode(bytes.fromhex(odd["reply"]["hex"]), 0).startswith("Sorry")
    assert odd["reply"]["session_info"] == 0x0301  # echoed, end bit set
    assert menu.requests == []  # the menu never saw a request it cannot read
