"""SMPP 3.4 conformance on a live bind against node-smpp: what a peer's faults cost."""

from __future__ import annotations

import asyncio
import struct

from structlog.testing import capture_logs

from gateway.smpp import codec
from gateway.smpp.esme import ESMEBind
from gateway.smpp.pdu import DeliverSMResp, EnquireLinkResp, SubmitSMResp
from gateway.smpp.pool import SMPPPool
from gateway.sms.messages import SendOutcome
from tests.smpp.smsc_driver import FAST, RecordingSink, Simulator, eventually, smsc_settings
from tests.smpp.test_esme_live import numbered, started


async def test_stray_responses_are_counted_and_the_link_stays(smsc: Simulator) -> None:
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        with capture_logs() as logs:
            for stray in (
                SubmitSMResp(sequence=70001, message_id="dup"),
                EnquireLinkResp(sequence=70002),
                DeliverSMResp(sequence=70003),
            ):
                await smsc.command("raw", hex=codec.encode(stray).hex())
            await eventually(lambda: pool.status()[0]["stray_responses"] == 3)
        results = await pool.send(numbered(5, "after"))
        status = pool.status()[0]
    finally:
        await pool.stop()
    assert status["connects"] == 1 and status["reconnects"] == 0  # never dropped
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    strays = [line for line in logs if line["event"] == "smpp_stray_response"]
    assert [line["command_id"] for line in strays] == ["0x80000004", "0x80000015", "0x80000005"]
    assert all("answers no request" in line["reason"] for line in strays)


async def test_an_invalid_command_length_gets_a_generic_nack_then_the_link_is_rebuilt(
    smsc: Simulator,
) -> None:
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        with capture_logs() as logs:
            header = struct.pack(">IIII", 0x7FFF0000, 0x00000005, 0, 4711)
            await smsc.command("raw", hex=header.hex())
            await eventually(lambda: pool.status()[0]["framing_errors"] == 1)
            await eventually(lambda: pool.status()[0]["connects"] == 2)
            await eventually(lambda: pool.status()[0]["bound"])
        results = await pool.send(numbered(3, "again"))
    finally:
        await pool.stop()
    nacks = (await smsc.stats())["nacks"]
    assert {"sequence": 4711, "status": 0x02} in nacks  # ESME_RINVCMDLEN, for that PDU
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    (line,) = [line for line in logs if line["event"] == "smpp_peer_protocol_error"]
    assert line["command_id"] == "0x00000005" and "command_length" in line["reason"]
    assert line["action"] == "generic_nack, then close"


async def test_part_3_of_2_is_logged_counted_and_kept(smsc: Simulator) -> None:
    sink = RecordingSink()
    pool = await started(SMPPPool([smsc_settings(smsc.port)], sink, tuning=FAST))
    try:
        udh = bytes([5, 0x00, 3, 0x42, 2, 3])  # reference 0x42, part 3 of 2
        with capture_logs() as logs:
            (answer,) = (
                await smsc.command(
                    "mo",
                    pdus=[
                        {
                            "source": "254700000001",
                            "dest": "12345",
                            "esm_class": 0x40,
                            "hex": (udh + b"HELP").hex(),
                        }
                    ],
                )
            )["results"]
        receipts = pool.receipt_status()[0]
    finally:
        await pool.stop()
    assert answer["status"] == 0
    assert [m.text for m in sink.messages] == ["HELP"]
    assert receipts["bad_concatenation"] == 1
    (line,) = [line for line in logs if line["event"] == "smpp_bad_concatenation"]
    assert (line["part"], line["total"]) == (3, 2)


async def test_a_bind_timeout_says_what_it_waited_for() -> None:
    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read(-1)  # accept the bind and say nothing, ever
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    bind = ESMEBind(smsc_settings(server.sockets[0].getsockname()[1]), tuning=FAST)
    try:
        with capture_logs() as logs:
            await bind.start()
            await eventually(lambda: bind.stats.last_error != "", within=15)
            await bind.stop()
    finally:
        server.close()
    assert "no transceiver bind_resp within 3 s" in bind.stats.last_error
    failed = [line for line in logs if line["event"] == "smpp_connect_failed"]
    assert failed and "bind_resp" in failed[0]["error"]
    assert not any(line.get("error") == "TimeoutError: " for line in logs)
