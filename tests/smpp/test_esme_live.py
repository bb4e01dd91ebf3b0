"""The ESME pool against node-smpp: sending, receipts, failures of the SMSC."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from dataclasses import replace
from pathlib import Path

from gateway.smpp.pool import SMPPPool
from gateway.sms import encoding
from gateway.sms.messages import DeliveryState, OutboundSMS, SendOutcome
from tests.smpp.smsc_driver import FAST, RecordingSink, Simulator, eventually, smsc_settings


async def started(pool: SMPPPool) -> SMPPPool:
    await pool.start()
    async with asyncio.timeout(10):
        await pool.wait_bound()
    return pool


def numbered(count: int, prefix: str = "msg") -> list[OutboundSMS]:
    return [
        OutboundSMS(f"{prefix}-{index}", f"2547{index:08d}", f"{prefix} {index} ok")
        for index in range(count)
    ]


async def test_a_thousand_messages_are_all_delivered_with_receipts(smsc: Simulator) -> None:
    await smsc.configure(dlr=True, dlr_id_format="decimal")
    sink = RecordingSink()
    pool = await started(SMPPPool([smsc_settings(smsc.port)], sink, tuning=FAST))
    try:
        messages = numbered(1000)
        async with asyncio.timeout(60):
            results = await pool.send(messages)
            await eventually(lambda: len(sink.reports) >= 1000, within=30)
    finally:
        await pool.stop()
    assert [r.reference for r in results] == [m.reference for m in messages]
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    delivered = await smsc.messages()
    assert sorted(bytes.fromhex(m["hex"]).decode() for m in delivered) == sorted(
        m.text for m in messages
    )
    # The simulator's receipts give decimal ids; they still match our hex ids.
    sent_ids = {r.message_ids[0] for r in results}
    assert {report.message_id for report in sink.reports} == sent_ids
    assert {report.state for report in sink.reports} == {DeliveryState.DELIVERED}
    stats = await smsc.stats()
    assert stats["submits"] == 1000 and stats["unbinds"] == 1  # clean unbind on stop


async def test_long_messages_reach_the_smsc_byte_exact_in_every_split_mode(
    smsc: Simulator,
) -> None:
    texts = [
        "Safe route update: " + "border crossing {North} open 06:00-18:00 ^ cost €0 | " * 6,
        "طريق آمن: المعبر الشمالي مفتوح 😀 " * 8,
        "ሰላም ትግርኛ 🇸🇩 " * 20,
    ]
    for mode in ("udh", "sar", "payload"):
        pool = await started(
            SMPPPool([smsc_settings(smsc.port, split_mode=mode)], RecordingSink(), tuning=FAST)
        )
        try:
            before = len(await smsc.messages())
            results = await pool.send(
                [OutboundSMS(f"{mode}{i}", "254700000001", t) for i, t in enumerate(texts)]
            )
        finally:
            await pool.stop()
        assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
        got = (await smsc.messages())[before:]
        assert len(got) == len(texts)
        for text, message, result in zip(texts, got, results, strict=True):
            alphabet = encoding.alphabet_for(text)
            assert message["dc"] == alphabet.data_coding
            assert bytes.fromhex(message["hex"]) == encoding.encode(text, alphabet)
            assert message["via"] == mode
            assert len(result.message_ids) == (1 if mode == "payload" else message["parts"])


async def test_throttling_slows_down_and_resends_the_same_message(smsc: Simulator) -> None:
    await smsc.configure(throttle_every=7)
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        async with asyncio.timeout(30):
            results = await pool.send(numbered(200))
        status = pool.status()[0]
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    stats = await smsc.stats()
    assert stats["throttled"] > 0 and status["throttled"] == stats["throttled"]
    bodies = Counter(bytes.fromhex(m["hex"]).decode() for m in await smsc.messages())
    assert len(bodies) == 200 and set(bodies.values()) == {1}


async def test_temporary_errors_are_retried_and_final_errors_never_resent(
    smsc: Simulator,
) -> None:
    await smsc.configure(temporary_every=5, temporary_status=0x14)
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        results = await pool.send(numbered(50, "tmp"))
        assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
        await smsc.configure(temporary_every=0, final_every=3, final_status=0x0B)
        before = (await smsc.stats())["submits"]
        results = await pool.send(numbered(30, "fin"))
    finally:
        await pool.stop()
    outcomes = Counter(r.outcome for r in results)
    assert outcomes == {SendOutcome.ACCEPTED: 20, SendOutcome.FAILED: 10}
    assert all("0x0000000b" in r.error for r in results if r.outcome is SendOutcome.FAILED)
    assert (await smsc.stats())["submits"] - before == 30  # nothing final was sent twice


async def test_temporary_errors_that_persist_end_as_retry(smsc: Simulator) -> None:
    await smsc.configure(temporary_every=1, temporary_status=0x08)
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        (result,) = await pool.send(numbered(1))
    finally:
        await pool.stop()
    assert result.outcome is SendOutcome.RETRY
    assert (await smsc.stats())["submits"] == FAST.temporary_retries + 1


async def test_tps_cap_holds_in_every_one_second_window_at_the_smsc(smsc: Simulator) -> None:
    tps = 40
    # The margin widens the limiter's window so that arrival jitter (a loaded CI
    # machine can stall the simulator for tens of ms) cannot squeeze two bursts into
    # one second at the SMSC; the property checked is on the SMSC's own timestamps.
    tuning = replace(FAST, rate_margin=0.25)
    pool = await started(
        SMPPPool([smsc_settings(smsc.port, tps=float(tps))], RecordingSink(), tuning=tuning)
    )
    try:
        async with asyncio.timeout(30):
            results = await pool.send(numbered(130))
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    times = (await smsc.command("submit_times"))["times"]
    assert len(times) == 130
    start, busiest = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1000.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    assert busiest <= tps
    assert times[-1] - times[0] >= 2000.0  # 130 at 40/s cannot take less than 3 windows


async def test_smsc_killed_mid_stream_nothing_lost_duplicates_bounded(tmp_path: Path) -> None:
    record = tmp_path / "submits.jsonl"
    first = await Simulator.start(record=record)
    port = first.port
    window = 10
    pool = await started(
        SMPPPool([smsc_settings(port, window=window, tps=2000.0)], RecordingSink(), tuning=FAST)
    )
    messages = numbered(3000, "kill")
    second: Simulator | None = None
    try:
        sending = asyncio.create_task(pool.send(messages))

        async def accepted_some() -> bool:
            return bool((await first.stats())["accepted"] >= 300)

        await eventually(accepted_some, within=20, every=0.01)
        await first.kill()
        await asyncio.sleep(0.3)
        second = await Simulator.start(port=port, record=record)
        async with asyncio.timeout(60):
            results = await sending
        status = pool.status()[0]
    finally:
        await pool.stop()
        if second is not None:
            await second.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    assert status["connects"] >= 2
    seen = Counter(
        bytes.fromhex(json.loads(line)["hex"]).decode() for line in record.read_text().splitlines()
    )
    assert set(seen) == {m.text for m in messages}  # nothing lost
    duplicates = sum(count - 1 for count in seen.values())
    assert duplicates <= window  # at most the window in flight when the SMSC died


async def test_silent_smsc_is_detected_by_enquire_link_and_the_link_rebuilt(
    smsc: Simulator,
) -> None:
    settings = smsc_settings(smsc.port, enquire_link_interval=0.3, response_timeout=0.3)
    pool = await started(SMPPPool([settings], RecordingSink(), tuning=FAST))
    try:
        await smsc.configure(silent_after_bind=True)
        await eventually(lambda: pool.status()[0]["connects"] >= 2)
        assert (await smsc.stats())["enquire_links"] >= 1
        await smsc.configure(silent_after_bind=False)
        async with asyncio.timeout(15):
            results = await pool.send(numbered(20, "after"))
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}


async def test_socket_closed_mid_pdu_reconnects_and_finishes(smsc: Simulator) -> None:
    await smsc.configure(close_mid_pdu_after=50)
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        async with asyncio.timeout(30):
            results = await pool.send(numbered(300, "mid"))
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    assert pool.status()[0]["connects"] >= 2
    bodies = {bytes.fromhex(m["hex"]).decode() for m in await smsc.messages()}
    assert bodies == {f"mid {i} ok" for i in range(300)}


async def test_unknown_command_gets_generic_nack_and_the_link_stays(smsc: Simulator) -> None:
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        await smsc.command("raw", hex="0000001000000999000000000000abcd")

        async def nacked() -> bool:
            return bool((await smsc.stats())["nacks"])

        await eventually(nacked, within=5)
        results = await pool.send(numbered(5))
        connects = pool.status()[0]["connects"]
    finally:
        await pool.stop()
    assert (await smsc.stats())["nacks"] == [{"sequence": 0xABCD, "status": 0x03}]
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    assert connects == 1


async def test_garbage_from_the_smsc_drops_the_link_and_it_comes_back(smsc: Simulator) -> None:
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        await smsc.command("raw", hex="ffffffff" + "00" * 64)
        await eventually(lambda: pool.status()[0]["connects"] >= 2 and pool.status()[0]["bound"])
        results = await pool.send(numbered(5))
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}


async def test_wrong_password_is_retried_with_backoff_and_reported(smsc: Simulator) -> None:
    from structlog.testing import capture_logs

    await smsc.configure(system_id="gateway", password="right")
    pool = SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST)
    with capture_logs() as logs:
        await pool.start()
        try:
            await eventually(lambda: pool.status()[0]["reconnects"] >= 4)
            status = pool.status()[0]
        finally:
            await pool.stop()
    assert not status["bound"]
    assert "0x0000000e" in status["last_error"]
    failed = [e for e in logs if e["event"] == "smpp_connect_failed"]
    scheduled = [e for e in logs if e["event"] == "smpp_reconnect_scheduled"]
    assert [e["attempt"] for e in scheduled[:4]] == [1, 2, 3, 4]  # one line per attempt
    assert len(failed) >= 4 and all("0x0000000e" in e["error"] for e in failed)
    assert all("secret" not in repr(e) for e in logs)  # the password never shows


async def test_several_binds_and_several_smscs_share_the_load() -> None:
    one, two = await Simulator.start(), await Simulator.start()
    try:
        pool = await started(
            SMPPPool(
                [
                    smsc_settings(one.port, name="one", binds=2),
                    replace(smsc_settings(two.port, name="two"), binds=2),
                ],
                RecordingSink(),
                tuning=FAST,
            )
        )
        try:
            results = await pool.send(numbered(400, "multi"))
            status = pool.status()
        finally:
            await pool.stop()
        got_one, got_two = await one.messages(), await two.messages()
    finally:
        await one.stop()
        await two.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    assert [(s["smsc"], s["bind"]) for s in status] == [
        ("one", 0),
        ("one", 1),
        ("two", 0),
        ("two", 1),
    ]
    assert all(s["submitted"] > 0 for s in status)
    assert len(got_one) + len(got_two) == 400


async def test_one_bad_recipient_fails_alone(smsc: Simulator) -> None:
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        results = await pool.send(
            [
                OutboundSMS("bad", "not-a-number", "x"),
                OutboundSMS("good", "+254700000001", "y"),
            ]
        )
    finally:
        await pool.stop()
    assert [(r.reference, r.outcome) for r in results] == [
        ("bad", SendOutcome.FAILED),
        ("good", SendOutcome.ACCEPTED),
    ]
    assert (await smsc.stats())["submits"] == 1


def self_signed(directory: Path) -> tuple[Path, Path]:
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "smsc.test")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_file, cert_file = directory / "key.pem", directory / "cert.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key_file, cert_file


async def test_tls_bind_verifies_the_smsc_certificate(tmp_path: Path) -> None:
    import ssl

    key_file, cert_file = self_signed(tmp_path)
    smsc = await Simulator.start(tls=(key_file, cert_file))
    try:
        trusted = ssl.create_default_context(cafile=str(cert_file))
        pool = await started(
            SMPPPool(
                [smsc_settings(smsc.port, tls=True)],
                RecordingSink(),
                tuning=replace(FAST, ssl_context=trusted),
            )
        )
        try:
            results = await pool.send(numbered(20, "tls"))
        finally:
            await pool.stop()
        assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
        # Without the SMSC's certificate in the trust store the bind never happens.
        untrusting = SMPPPool([smsc_settings(smsc.port, tls=True)], RecordingSink(), tuning=FAST)
        await untrusting.start()
        try:
            await eventually(lambda: untrusting.status()[0]["reconnects"] >= 2)
            status = untrusting.status()[0]
        finally:
            await untrusting.stop()
        assert not status["bound"] and "SSL" in status["last_error"]
    finally:
        await smsc.stop()


async def test_generic_nack_to_a_submit_is_never_taken_for_acceptance(smsc: Simulator) -> None:
    await smsc.configure(nack_every=4, nack_status=0)
    pool = await started(SMPPPool([smsc_settings(smsc.port)], RecordingSink(), tuning=FAST))
    try:
        results = await pool.send(numbered(40, "nack"))
    finally:
        await pool.stop()
    stats = await smsc.stats()
    assert stats["nacked"] >= 10
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    bodies = Counter(bytes.fromhex(m["hex"]).decode() for m in await smsc.messages())
    assert len(bodies) == 40 and set(bodies.values()) == {1}  # each stored once, after retry
    assert all(r.message_ids[0] for r in results)


async def test_a_stream_of_bad_pdus_never_kills_the_bind(smsc: Simulator) -> None:
    import random
    import struct

    from gateway.smpp import codec
    from gateway.smpp.pdu import DeliverSM, EnquireLink, SubmitSMResp, Unbind

    rng = random.Random(20261124)

    def frame(command_id: int, sequence: int, body: bytes) -> str:
        return (struct.pack(">IIII", 16 + len(body), command_id, 0, sequence) + body).hex()

    blobs = [frame(0x00000005, 900 + i, rng.randbytes(rng.randint(0, 60))) for i in range(8)] + [
        codec.encode(DeliverSM(sequence=950, esm_class=0x40, short_message=b"\x09garbage")).hex(),
        codec.encode(DeliverSM(sequence=951, esm_class=0x04, short_message=b"id: stat:")).hex(),
        codec.encode(EnquireLink(sequence=952)).hex(),
        frame(0x00000999, 953, b""),
        codec.encode(SubmitSMResp(sequence=77777)).hex(),  # answers nothing: discarded
        codec.encode(Unbind(sequence=954)).hex(),
        rng.randbytes(40).hex(),
    ]
    sink = RecordingSink()
    pool = await started(SMPPPool([smsc_settings(smsc.port)], sink, tuning=FAST))
    try:
        for blob in blobs:
            await eventually(lambda: pool.status()[0]["bound"])
            await smsc.command("raw", hex=blob)
        await eventually(lambda: pool.status()[0]["bound"])
        results = await pool.send(numbered(5, "alive"))
    finally:
        await pool.stop()
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    stats = await smsc.stats()
    nacked = {n["sequence"]: n["status"] for n in stats["nacks"]}
    assert nacked[953] == 0x03  # unknown command: generic_nack ESME_RINVCMDID
    # An undecodable deliver_sm gets a deliver_sm_resp with the error, not a nack.
    refused = {n["sequence"]: n["status"] for n in stats["deliver_errors"]}
    assert set(refused) == set(range(900, 908)) and 0 not in refused.values()
    assert not any(900 <= sequence < 908 for sequence in nacked)
