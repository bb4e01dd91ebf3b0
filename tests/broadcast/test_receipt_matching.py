"""Receipts from SMSCs whose ids collide land on exactly the right rows (node-smpp).

The simulator numbers its message ids in hex from 1 (so live ids alias each other
when read in the other base: ``10`` and ``16``), sends each receipt 5 s after the
submission with the id only in the text, restarts its counter, or runs twice side
by side with the same numbering. Every row must end final, and final as its own
SMSC said.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from tests.broadcast.conftest import Rig, seed
from tests.smpp.smsc_driver import Simulator, smsc_settings

pytestmark = pytest.mark.slow

RECEIPT_DELAY_MS = 5000
HEX_FROM_ONE = {
    "dlr": True,
    "record_bodies": False,
    "id_base": "hex",
    "id_start": 1,
    "dlr_delay_ms": RECEIPT_DELAY_MS,
    "dlr_tlv": False,  # the id only in the receipt text, as many SMSCs send it
}


@pytest.mark.parametrize("receipt_ids", ["hex", "decimal"])
async def test_hex_ids_from_one_with_late_receipts_all_3000_delivered(
    pool_rig: Rig, receipt_ids: str
) -> None:
    """``hex``: receipts write ids as the submit_sm_resp did (as-is); ``decimal``: they
    write their value in decimal (hex-to-dec). The gateway is not told: ``auto``."""
    total = 3000
    seed(pool_rig, total)
    smsc = await Simulator.start()
    await smsc.configure(**HEX_FROM_ONE, dlr_id_format=receipt_ids)
    async with pool_rig.bound_pool(
        [smsc_settings(smsc.port, window=50)], stop_after=[smsc]
    ) as pool:
        _, counts = await pool_rig.broadcast_final(pool, total)
        receipts = pool.receipt_status()[0]
    assert counts == {"delivered": total}
    assert receipts["receipt_id"] == ("as-is" if receipt_ids == "hex" else "hex-to-dec")
    assert receipts["held"] == 0 and receipts["live"] == 0
    if receipt_ids == "decimal":
        assert receipts["ambiguous"] > 0  # some had to wait for the format: none guessed
        assert receipts["resolved"] == receipts["ambiguous"]


async def test_an_smsc_restarting_its_counter_between_broadcasts(pool_rig: Rig) -> None:
    total = 3000
    seed(pool_rig, total)
    first = await Simulator.start()
    port = first.port
    await first.configure(**HEX_FROM_ONE, dlr_id_format="hex")
    simulators = [first]  # the restarted one is stopped first, when the pool has stopped
    async with pool_rig.bound_pool([smsc_settings(port, window=50)], stop_after=simulators) as pool:
        before, before_counts = await pool_rig.broadcast_final(pool, total)
        await first.kill()
        second = await Simulator.start(port=port)
        simulators.insert(0, second)
        await second.configure(**HEX_FROM_ONE, dlr_id_format="hex")  # ids from 1 again
        await asyncio.wait_for(pool.wait_bound(), 30)
        _, after_counts = await pool_rig.broadcast_final(pool, total)
        before_again = dict((await pool_rig.store.outbox_counts(before)).counts)
    assert before_counts == {"delivered": total}
    assert after_counts == {"delivered": total}
    assert before_again == {"delivered": total}  # no receipt of the second touched the first


async def test_two_smscs_numbering_from_one_each_row_final_and_right(
    pool_rig: Rig, tmp_path: Path
) -> None:
    """SMSC ``good`` delivers everything, ``bad`` fails everything; both count from 1.
    A row must end as the SMSC that carried it said, never as the other one did."""
    total = 400
    numbers = seed(pool_rig, total)
    good_record, bad_record = tmp_path / "good.jsonl", tmp_path / "bad.jsonl"
    good = await Simulator.start(record=good_record)
    bad = await Simulator.start(record=bad_record)
    quicker = {**HEX_FROM_ONE, "dlr_delay_ms": 1000, "dlr_id_format": "hex"}
    await good.configure(**quicker)
    await bad.configure(**quicker, dlr_stat="UNDELIV")
    smscs = [
        smsc_settings(good.port, name="good", receipt_id="as-is"),
        smsc_settings(bad.port, name="bad", receipt_id="as-is"),
    ]
    async with pool_rig.bound_pool(smscs, stop_after=[good, bad]) as pool:
        alert, counts = await pool_rig.broadcast_final(pool, total)
    carried_by = {}
    for record, name in ((good_record, "good"), (bad_record, "bad")):
        for line in record.read_text().splitlines():
            carried_by["+" + line.split('"dest":"')[1].split('"')[0]] = name
    states = pool_rig.states_by_number(alert, numbers)
    assert sum(counts.values()) == total and set(counts) <= {"delivered", "failed"}
    assert set(carried_by.values()) == {"good", "bad"}  # both SMSCs carried some
    wrong = {
        n: (carried_by[n], state)
        for n, state in states.items()
        if state != ("delivered" if carried_by[n] == "good" else "failed")
    }
    assert wrong == {}
