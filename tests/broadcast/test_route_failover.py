"""Routes with failover, end to end: the durable broadcast through the SMPP pool to
node-smpp simulators and the Africa's Talking double.

- an SMSC that answers ESME_RINVDSTADR for a range hands those messages to the
  route's next SMSC; an error outside the route's failover classes fails the row there;
  throttling retries the same SMSC;
- the first SMSC killed mid-broadcast: the second carries the rest; every row final,
  nobody lost, nobody sent twice (what was in flight at the kill ends ``unknown``);
- Africa's Talking as the second target: rows it took end delivered by AT's callbacks.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.africastalking.sms_callbacks import create_sms_routes
from gateway.africastalking.sms_sender import AfricasTalkingSMS
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.settings import RouteSettings, Secret
from gateway.smpp.pool import receipt_timeouts
from gateway.sms.messages import OutboundSMS, SendOutcome
from tests.at_double import MESSAGING_PATH, ATDouble
from tests.broadcast.conftest import CALLBACK_SECRET, Rig, seed
from tests.smpp.smsc_driver import Simulator, eventually, smsc_settings

pytestmark = pytest.mark.slow

ESME_RINVSRCADR = 0x0A  # not a failover class: the row fails where it is
ESME_RINVDSTADR = 0x0B  # a failover class by default


def accepted(record: Path) -> list[str]:
    lines = record.read_text().splitlines() if record.exists() else []
    return ["+" + str(json.loads(line)["dest"]) for line in lines]


def target(route: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(t for t in route["targets"] if t["target"] == name)
    return found


async def test_an_error_class_of_the_route_hands_the_message_to_the_next_smsc(
    pool_rig: Rig, tmp_path: Path
) -> None:
    total = 300
    numbers = seed(pool_rig, total)  # +2547000 00000 .. 00299
    first_record, second_record = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first = await Simulator.start(record=first_record)
    second = await Simulator.start(record=second_record)
    await first.configure(
        dlr=True,
        record_bodies=False,
        throttle_every=7,  # throttling: the same SMSC again, never the next one
        refuse=[
            {"prefix": "2547000001", "status": ESME_RINVDSTADR},  # 100..199: next SMSC
            {"prefix": "2547000002", "status": ESME_RINVSRCADR},  # 200..299: failed
        ],
    )
    await second.configure(dlr=True, record_bodies=False)
    async with pool_rig.bound_pool(
        [smsc_settings(first.port, name="first"), smsc_settings(second.port, name="second")],
        [RouteSettings("kenya", ("first", "second"), countries=("KE",))],
        stop_after=[second, first],
    ) as pool:
        alert, counts = await pool_rig.broadcast_final(pool, total)
        (route,) = pool.route_status()
        throttled = (await first.stats())["throttled"]
    by_first, by_second = accepted(first_record), accepted(second_record)
    states = pool_rig.states_by_number(alert, numbers)
    # Each submit's validity period is the alert's expiry as the SMSC read it (to the
    # tenth of a second, never later): the network drops what it could not deliver by then.
    broadcast = await pool_rig.store.get_broadcast(alert)
    assert broadcast is not None
    for record in (first_record, second_record):
        for line in record.read_text().splitlines():
            valid_until = dt.datetime.fromisoformat(json.loads(line)["validity"]).timestamp()
            assert broadcast.expires_at - 0.1 < valid_until <= broadcast.expires_at
    assert sorted(by_first) == numbers[:100]  # each once: throttled ones were sent again
    assert sorted(by_second) == numbers[100:200]  # exactly the refused-for-a-reason range
    assert {states[n] for n in numbers[:200]} == {"delivered"}
    assert {states[n] for n in numbers[200:]} == {"failed"}
    assert counts == {"delivered": 200, "failed": 100}
    assert throttled > 0
    assert route["route"] == "kenya" and route["matches"] == ["KE"]
    assert route["state"] == "up" and route["current"] == "first"
    assert target(route, "first")["failed_over"] == 100
    assert target(route, "first")["refused"] == 200  # both ranges; 100 went on
    assert target(route, "second")["failover"] == 100
    assert target(route, "second")["accepted"] == 100


async def test_an_smsc_set_not_to_get_a_validity_period_gets_none(
    pool_rig: Rig, tmp_path: Path
) -> None:
    """``send_validity: false``, for an SMSC that refuses the field: its submits carry
    no validity_period (the SMSC's default applies); the other SMSC's still do."""
    records = {name: tmp_path / f"{name}.jsonl" for name in ("plain", "dated")}
    plain = await Simulator.start(record=records["plain"])
    dated = await Simulator.start(record=records["dated"])
    expiry = time.time() + 3600
    async with pool_rig.bound_pool(
        [
            smsc_settings(plain.port, name="plain", send_validity=False),
            smsc_settings(dated.port, name="dated"),
        ],
        [
            RouteSettings("kenya", ("plain",), countries=("KE",)),
            RouteSettings("uganda", ("dated",), countries=("UG",)),
        ],
        stop_after=[plain, dated],
    ) as pool:
        results = await pool.send(
            [
                # Kenya's calling code is 254, Uganda's 256 (ITU-T E.164 list)
                OutboundSMS("ke", "+254700000001", "Road closed (sample)", valid_until=expiry),
                OutboundSMS("ug", "+256700000001", "Road closed (sample)", valid_until=expiry),
            ]
        )
    assert {r.outcome for r in results} == {SendOutcome.ACCEPTED}
    (plain_submit,) = [json.loads(line) for line in records["plain"].read_text().splitlines()]
    (dated_submit,) = [json.loads(line) for line in records["dated"].read_text().splitlines()]
    assert plain_submit["validity"] is None
    assert expiry - 0.1 < dt.datetime.fromisoformat(dated_submit["validity"]).timestamp() <= expiry


async def test_killing_the_first_smsc_mid_broadcast_fails_over_to_the_second(
    pool_rig: Rig, tmp_path: Path
) -> None:
    total = 1500
    numbers = seed(pool_rig, total)
    first_record, second_record = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    first = await Simulator.start(record=first_record)
    second = await Simulator.start(record=second_record)
    for smsc in (first, second):
        await smsc.configure(dlr=True, record_bodies=False)
    smscs = [
        # Today's per-SMSC prefixes (backward compatible): one route, this order.
        # Receipts the dead SMSC still owed never come: those rows end "unknown".
        smsc_settings(first.port, name="first", routes=("+2547",), receipt_timeout=2.0),
        smsc_settings(second.port, name="second", routes=("+2547",), tps=2000.0),
    ]
    async with pool_rig.bound_pool(smscs, stop_after=[second, first]) as pool:
        sending = asyncio.create_task(pool_rig.broadcast(pool, tps=1500.0))
        await eventually(lambda: len(accepted(first_record)) >= 300, within=60)
        await first.kill()
        await asyncio.wait_for(sending, 120)
        alert = sending.result()
        # Receipts the dead SMSC still owed: past its receipt timeout, a worker's sweep
        # ends those rows unknown.
        await asyncio.sleep(2.1)
        options = WorkerOptions(
            channel="smpp", tps=1.0, sms_prefix="", receipt_timeouts=receipt_timeouts(smscs)
        )
        await BroadcastWorker(pool_rig.store, pool, pool_rig.vault, options).run(until_idle=True)
        counts = await pool_rig.wait_final(alert, total)
        (route,) = pool.route_status()
    by_first, by_second = accepted(first_record), accepted(second_record)
    states = pool_rig.states_by_number(alert, numbers)
    assert sum(counts.values()) == total and set(counts) <= {"delivered", "unknown"}
    # Nobody sent twice: not by the two SMSCs, not twice by one.
    assert set(by_first).isdisjoint(by_second)
    assert max(Counter(by_first + by_second).values()) == 1
    # Nobody lost: a row that did not end unknown was carried by one of them; a row
    # unknown was in flight at the kill (at most the window) or owed its receipt.
    unknown = {n for n, state in states.items() if state == "unknown"}
    print(f"first={len(by_first)} second={len(by_second)} unknown={len(unknown)} {counts}")
    assert set(numbers) - unknown <= set(by_first) | set(by_second)
    assert unknown <= set(by_first) | (set(numbers) - set(by_second))
    assert {states[n] for n in by_second} == {"delivered"}
    assert len(by_first) >= 300 and len(by_second) > 0
    assert route["route"] == "+2547" and route["state"] == "up"
    assert route["current"] == "second" and target(route, "first")["up"] is False
    assert target(route, "second")["failover"] > 0
    assert route["failover"] == target(route, "second")["failover"]


@pytest.fixture
async def at_double(
    pool_rig: Rig, aiohttp_server: Callable[..., Any]
) -> AsyncIterator[tuple[ATDouble, str]]:
    double = ATDouble()
    double_server = await aiohttp_server(double.app())
    callbacks = web.Application()
    callbacks.add_routes(create_sms_routes(pool_rig.inbox, Secret(CALLBACK_SECRET)))
    callback_server = await aiohttp_server(callbacks)
    base = str(callback_server.make_url("/africastalking/sms"))
    double.dlr_url = f"{base}/delivery?key={CALLBACK_SECRET}"
    yield double, str(double_server.make_url(MESSAGING_PATH))
    await double_server.close()
    await callback_server.close()


async def test_africas_talking_as_the_second_target(
    pool_rig: Rig, tmp_path: Path, at_double: tuple[ATDouble, str]
) -> None:
    total = 200
    numbers = seed(pool_rig, total)
    double, url = at_double
    record = tmp_path / "smsc.jsonl"
    smsc = await Simulator.start(record=record)
    await smsc.configure(
        dlr=True, record_bodies=False, refuse=[{"prefix": "2547000001", "status": 0x45}]
    )
    async with aiohttp.ClientSession() as http:
        sender = AfricasTalkingSMS(http, url, double.username, Secret(double.api_key))
        async with pool_rig.bound_pool(
            [smsc_settings(smsc.port, name="op1")],
            [RouteSettings("kenya", ("op1", "africastalking"), prefixes=("+254",))],
            stop_after=[smsc],
            africastalking=sender,
        ) as pool:
            _, counts = await pool_rig.broadcast_final(pool, total)
            (route,) = pool.route_status()
    by_smsc = accepted(record)
    by_at = [received.number for received in double.received]
    assert sorted(by_smsc) == numbers[:100] + numbers[200:]
    assert sorted(by_at) == numbers[100:200]  # ESME_RSUBMITFAIL: on to AT, once each
    assert counts == {"delivered": total}  # AT's rows delivered by AT's own callbacks
    assert double.requests < 100  # AT's bulk mode: several numbers a request
    assert target(route, "op1")["failed_over"] == 100
    assert target(route, "africastalking")["accepted"] == 100
    assert target(route, "africastalking")["kind"] == "africastalking"


async def test_africas_talking_first_its_could_not_route_goes_to_the_smsc(
    pool_rig: Rig, tmp_path: Path, at_double: tuple[ATDouble, str]
) -> None:
    total = 200
    numbers = seed(pool_rig, total)
    double, url = at_double
    double.refuse = {
        "+2547000001": (407, "CouldNotRoute"),
        "+25470000019": (403, "InvalidPhoneNumber"),
    }
    record = tmp_path / "smsc.jsonl"
    smsc = await Simulator.start(record=record)
    await smsc.configure(dlr=True, record_bodies=False)
    async with aiohttp.ClientSession() as http:
        sender = AfricasTalkingSMS(http, url, double.username, Secret(double.api_key))
        async with pool_rig.bound_pool(
            [smsc_settings(smsc.port, name="op1")],
            [RouteSettings("kenya", ("africastalking", "op1"), countries=("KE",))],
            stop_after=[smsc],
            africastalking=sender,
        ) as pool:
            alert, counts = await pool_rig.broadcast_final(pool, total)
            (route,) = pool.route_status()
    states = pool_rig.states_by_number(alert, numbers)
    by_at = sorted(received.number for received in double.received)
    assert by_at == numbers[:100]
    assert sorted(accepted(record)) == numbers[100:190]  # CouldNotRoute: on to the SMSC
    assert {states[n] for n in numbers[190:]} == {"failed"}  # InvalidPhoneNumber: final
    assert counts == {"delivered": 190, "failed": 10}
    assert route["current"] == "africastalking"
    assert target(route, "africastalking")["failed_over"] == 90
    assert target(route, "africastalking")["refused"] == 100
    assert target(route, "op1")["accepted"] == 90
