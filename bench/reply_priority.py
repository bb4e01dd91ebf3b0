"""Replies ahead of bulk: how long a JOIN reply waits during a saturating broadcast.

Prints figures; not a test. Run: ``python bench/reply_priority.py [--recipients N]
[--interval S]`` (``--recipients 100000``: about 17 minutes at 100 TPS).

A broadcast to N subscribers runs through the real worker, store and SMPP pool into
the node-smpp simulator, on one bind capped at 100 TPS, from the first row to the
last; the worker hands the bind more than it may send (batch x concurrency), so a
backlog waits in the bind's queue the whole time. Every ``--interval`` seconds until
the broadcast has been handed over, a person texts ``JOIN hotlines`` (an MO through
the simulator, stored, answered by the keyword service), and at the same moment a
control message is handed to the pool at bulk priority. From the simulator's own
clock: MO sent -> reply's submit_sm arrived, and control handed over -> its
submit_sm arrived. The run fails unless every reply arrived and every row of the
broadcast was submitted.

Memory stays flat in N: the simulator keeps no bodies, the worker claims in batches,
and the simulator's record file is read incrementally, keeping only the sampled
numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.broadcast.alert_service import AlertDraft  # noqa: E402
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions  # noqa: E402
from gateway.sms import encoding  # noqa: E402
from gateway.sms.messages import OutboundSMS  # noqa: E402
from tests.broadcast.conftest import Rig, seed  # noqa: E402
from tests.smpp.smsc_driver import Simulator, smsc_settings  # noqa: E402

TPS = 100.0
WORKER_TPS = 2000.0  # more than the bind may send: the backlog waits in its queue


class RecordTail:
    """Reads the simulator's record file as it grows, keeping only watched numbers."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.lines = 0
        self.arrived: dict[str, float] = {}
        self.watched: set[str] = set()

    def read(self) -> None:
        if not self.path.exists():
            return
        with self.path.open("rb") as file:
            file.seek(self.offset)
            chunk = file.read()
        end = chunk.rfind(b"\n") + 1  # a line being written waits for the next read
        self.offset += end
        for line in chunk[:end].splitlines():
            self.lines += 1
            if not self.watched:
                continue
            record = json.loads(line)
            dest = str(record["dest"])
            if dest in self.watched and dest not in self.arrived:  # the first one
                self.arrived[dest] = float(record["t"])


def replies_in_order(asked: list[tuple[str, float]], arrived: dict[str, float]) -> list[float]:
    return [(arrived[n] - at) / 1000 for n, at in asked]


async def run(recipients: int, interval: float) -> int:
    with tempfile.TemporaryDirectory() as folder:
        rig = Rig(Path(folder))
        await rig.open()
        started = time.monotonic()
        seed(rig, recipients)
        print(f"seeded {recipients} subscribers in {time.monotonic() - started:.1f} s")
        record = Path(folder) / "submits.jsonl"
        lifetime = max(3600.0, recipients / TPS * 3 + 600)
        smsc = await Simulator.start(record=record, lifetime=lifetime)
        await smsc.configure(dlr=False, record_bodies=False)
        pool = rig.pool([smsc_settings(smsc.port, tps=TPS, window=10)])
        rig.inbox.replies = pool
        await pool.start()
        await asyncio.wait_for(pool.wait_bound(), 30)
        now = time.time()
        draft = AlertDraft(
            texts={"en": "Road closed at the bridge"},
            fallback_language="en",
            topics=("hotlines",),
            source="desk",
            author="alice",
            expires_at=now + lifetime,
        )
        alert = await rig.alerts.create(draft, now)
        await rig.alerts.approve(alert, "bob", now)
        await rig.alerts.send(alert, "bob", now)
        options = WorkerOptions(
            channel="smpp",
            tps=WORKER_TPS,
            sms_prefix="Info:",
            batch_size=50,
            poll_interval=0.05,
            lease_seconds=600.0,
        )
        worker = BroadcastWorker(rig.store, pool, rig.vault, options)
        broadcast_started = time.monotonic()
        sending = asyncio.create_task(worker.run(until_idle=True))
        tail = RecordTail(record)
        asked: list[tuple[str, float]] = []
        controls: list[tuple[str, float]] = []
        backlogs: list[int] = []
        stored: list[float] = []
        control_tasks: list[asyncio.Task[object]] = []
        index = 0
        try:
            await asyncio.sleep(min(3.0, interval))
            while not sending.done():
                joiner = f"2547330{index:05d}"
                control = f"2547340{index:05d}"
                tail.watched.update((joiner, control))
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
                stored.append(float(answer["ms"]) / 1000)  # MO stored (deliver_sm_resp)
                controls.append((control, float(answer["at"])))
                control_tasks.append(
                    asyncio.create_task(pool.send([OutboundSMS(f"c{index}", control, "control")]))
                )
                index += 1
                tail.read()
                if index % 20 == 0:
                    print(
                        f"  {time.monotonic() - broadcast_started:.0f} s: {tail.lines} "
                        f"submits at the SMSC, {len(asked)} JOINs"
                    )
                await asyncio.wait([sending], timeout=interval)
            await sending  # a failed worker fails the run
            broadcast_seconds = time.monotonic() - broadcast_started
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                tail.read()
                if all(number in tail.arrived for number, _ in asked + controls):
                    break
                await asyncio.sleep(0.5)
            counts = dict((await rig.store.outbox_counts(alert)).counts)
        finally:
            sending.cancel()
            await asyncio.gather(sending, *control_tasks, return_exceptions=True)
            await pool.stop()
            await smsc.stop()
            await rig.close()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # A joiner subscribed before the audience was expanded up to them is in it too.
    if set(counts) != {"submitted"} or counts["submitted"] < recipients:
        print(f"FAILED: the broadcast's rows are {counts}, not all {recipients} submitted")
        return 1
    missing = [number for number, _ in asked if number not in tail.arrived]
    if missing or not asked:
        print(f"FAILED: {len(missing)} of {len(asked)} JOIN replies never reached the SMSC")
        return 1
    replies = sorted((tail.arrived[n] - at) / 1000 for n, at in asked)
    bulk = sorted((tail.arrived[n] - at) / 1000 for n, at in controls if n in tail.arrived)
    print(
        f"broadcast to {recipients} at {TPS:.0f} TPS on one bind: every row submitted in "
        f"{broadcast_seconds:.0f} s ({recipients / broadcast_seconds:.1f} msg/s), backlog "
        f"in the bind's queue {min(backlogs)}-{max(backlogs)} messages; peak RSS "
        f"{peak_mb:.0f} MB"
    )
    p95 = replies[min(len(replies) - 1, int(0.95 * len(replies)))]
    print(
        f"JOIN reply (urgent), MO sent -> reply submitted: median "
        f"{statistics.median(replies):.3f} s, p95 {p95:.3f} s, max {max(replies):.3f} s "
        f"({len(replies)} samples; {sum(1 for r in replies if r > 2.0)} over the 2 s target)"
    )
    slow = [(r, m) for r, m in zip(replies_in_order(asked, tail.arrived), stored, strict=True)]
    late = [(r, m) for r, m in slow if r > 2.0]
    print(
        f"of which the MO's deliver_sm -> deliver_sm_resp (stored, JOIN handled): median "
        f"{statistics.median(stored):.3f} s, max {max(stored):.3f} s"
        + (
            f"; in the {len(late)} over 2 s it took "
            + ", ".join(f"{m:.2f} of {r:.2f} s" for r, m in late[:10])
            if late
            else ""
        )
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
    parser.add_argument("--interval", type=float, default=3.0, help="seconds between JOINs")
    args = parser.parse_args()
    if not 1 <= args.recipients <= 100_000 or args.interval <= 0:
        parser.error("--recipients 1..100000 (test numbers have five free digits), --interval > 0")
    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.ERROR))
    return asyncio.run(run(args.recipients, args.interval))


if __name__ == "__main__":
    raise SystemExit(main())
