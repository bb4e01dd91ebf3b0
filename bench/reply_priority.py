"""Replies ahead of bulk: how long a JOIN reply waits during a saturating broadcast.

Prints figures; not a test. Run: ``python bench/reply_priority.py [--recipients N]``.

A broadcast to N subscribers runs through the real worker, store and SMPP pool into
the node-smpp simulator, on one bind capped at 100 TPS; the worker hands the bind
far more than it may send, so a backlog waits in the bind's queue (as during a
100 TPS broadcast to 100,000). Every few seconds a person texts ``JOIN hotlines``
(an MO through the simulator, stored, answered by the keyword service), and at the
same moment a control message is handed to the pool at bulk priority. From the
simulator's own clock: MO sent -> reply's submit_sm arrived, and control handed
over -> its submit_sm arrived. The run fails unless every reply arrived.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.sms import encoding  # noqa: E402
from gateway.sms.messages import OutboundSMS  # noqa: E402
from tests.broadcast.test_receipt_matching import Rig, seed  # noqa: E402
from tests.smpp.smsc_driver import Simulator, smsc_settings  # noqa: E402

TPS = 100.0


def records(path: Path) -> list[dict[str, object]]:
    lines = path.read_text().splitlines() if path.exists() else []
    return [json.loads(line) for line in lines]


async def run(recipients: int, samples: int) -> int:
    with tempfile.TemporaryDirectory() as folder:
        rig = Rig(Path(folder))
        await rig.open()
        seed(rig, recipients)
        record = Path(folder) / "submits.jsonl"
        smsc = await Simulator.start(record=record, lifetime=3600)
        await smsc.configure(dlr=False, record_bodies=False)
        pool = rig.pool([smsc_settings(smsc.port, tps=TPS, window=10)])
        rig.inbox.replies = pool
        await pool.start()
        await asyncio.wait_for(pool.wait_bound(), 30)
        sending = asyncio.create_task(rig.broadcast(pool, tps=2000.0))
        asked: list[tuple[str, float]] = []
        controls: list[tuple[str, float]] = []
        backlogs: list[int] = []
        control_tasks: list[asyncio.Task[object]] = []
        try:
            await asyncio.sleep(3.0)
            for index in range(samples):
                joiner = f"2547330{index:05d}"
                control = f"2547340{index:05d}"
                backlogs.append(int(pool.status()[0]["queued"]))
                (answer,) = (
                    await smsc.command(
                        "mo",
                        pdus=[
                            {
                                "source": joiner,
                                "dest": "3030",
                                "hex": encoding.encode_gsm7("JOIN hotlines").hex(),
                            }
                        ],
                    )
                )["results"]
                sent_at = float(answer["at"]) - float(answer["ms"])  # the MO left the SMSC
                asked.append((joiner, sent_at))
                controls.append((control, float(answer["at"])))
                control_tasks.append(
                    asyncio.create_task(pool.send([OutboundSMS(f"c{index}", control, "control")]))
                )
                await asyncio.sleep(3.0)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                seen = {str(r["dest"]) for r in records(record)}
                if all(number in seen for number, _ in asked + controls):
                    break
                await asyncio.sleep(0.5)
        finally:
            sending.cancel()
            await asyncio.gather(sending, return_exceptions=True)
            await pool.stop()
            await smsc.stop()
            await rig.close()
        arrived = {str(r["dest"]): float(str(r["t"])) for r in records(record)}
    missing = [number for number, _ in asked if number not in arrived]
    if missing:
        print(f"FAILED: {len(missing)} of {len(asked)} JOIN replies never reached the SMSC")
        return 1
    replies = [(arrived[n] - at) / 1000 for n, at in asked]
    bulk = [(arrived[n] - at) / 1000 for n, at in controls if n in arrived]
    print(
        f"broadcast to {recipients} at {TPS:.0f} TPS on one bind, backlog in the bind's "
        f"queue {min(backlogs)}-{max(backlogs)} messages"
    )
    print(
        f"JOIN reply (urgent), MO sent -> reply submitted: median "
        f"{statistics.median(replies):.3f} s, max {max(replies):.3f} s ({len(replies)} samples)"
    )
    if bulk:
        print(
            f"same moment, a message at bulk priority: median {statistics.median(bulk):.3f} s, "
            f"max {max(bulk):.3f} s"
        )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--recipients", type=int, default=4000)
    parser.add_argument("--samples", type=int, default=8)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    return asyncio.run(run(args.recipients, args.samples))


if __name__ == "__main__":
    raise SystemExit(main())
