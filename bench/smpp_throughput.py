"""SMPP throughput into the node-smpp simulator, and the accuracy of the TPS cap.

Prints figures; not a test. Run: ``python bench/smpp_throughput.py [--quick]``.

1. messages/s submitted (send() of a batch until every submit_sm_resp is in), 20,000
   messages, window 1/10/100, without and with delivery receipts (with receipts the
   same link also carries 20,000 deliver_sm and their resps, and the rate "incl.
   receipts" runs until the last one is in);
2. a 100 TPS cap held for 30 s: the most submit_sm the SMSC saw in any 1-s window.

A run counts only when it is complete: every message accepted, and with receipts on,
every message id that the SMSC returned has its receipt (delivered) within
RECEIPT_DEADLINE seconds. Otherwise the script says which run and what is missing, and
exits 1: it never prints a rate for an unfinished run.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sys
import time
from pathlib import Path

import structlog

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.smpp.pool import SMPPPool  # noqa: E402
from gateway.smpp.tuning import LinkTuning  # noqa: E402
from gateway.sms.messages import DeliveryState, OutboundSMS, SendOutcome  # noqa: E402
from tests.smpp.smsc_driver import RecordingSink, Simulator, smsc_settings  # noqa: E402

RECEIPT_DEADLINE = 120.0


class IncompleteRun(Exception):
    """A run that did not finish: no rate is printed for it."""


def messages(count: int, tag: str) -> list[OutboundSMS]:
    return [
        OutboundSMS(f"{tag}-{i}", f"2547{i:08d}", f"Alert {i}: the north crossing is closed")
        for i in range(count)
    ]


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) a process has used, from /proc (0.0 elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def throughput(count: int, window: int, receipts: bool) -> tuple[float, float, str]:
    smsc = await Simulator.start(lifetime=600)
    try:
        await smsc.configure(dlr=receipts, record_bodies=False)
        sink = RecordingSink()
        settings = smsc_settings(smsc.port, window=window, tps=1e9, request_dlr=receipts)
        pool = SMPPPool([settings], sink, tuning=LinkTuning())
        await pool.start()
        async with asyncio.timeout(10):
            await pool.wait_bound()
        batch = messages(count, f"w{window}")
        warm_up = await pool.send(batch[:200])
        node_before, ours_before = process_cpu(smsc.process.pid), time.process_time()
        began = time.perf_counter()
        results = await pool.send(batch)
        submitted = time.perf_counter() - began
        refused = sum(r.outcome is not SendOutcome.ACCEPTED for r in results)
        if refused:
            raise IncompleteRun(f"window {window}: {refused} of {count} messages not accepted")
        if receipts:
            expected = {mid for r in results for mid in r.message_ids}
            warm_up_ids = sum(len(r.message_ids) for r in warm_up)
            deadline = time.perf_counter() + RECEIPT_DEADLINE
            while time.perf_counter() < deadline:
                if len(sink.reports) >= warm_up_ids + len(expected):
                    break
                await asyncio.sleep(0.005)
            got = {r.message_id for r in sink.reports if r.state is DeliveryState.DELIVERED}
            missing = len(expected - got)
            if missing:
                raise IncompleteRun(
                    f"window {window}: {missing} of {len(expected)} receipts missing (or not "
                    f"delivered) {RECEIPT_DEADLINE:.0f}s after the last submit"
                )
        with_receipts = time.perf_counter() - began
        cpu = (
            f"python {time.process_time() - ours_before:.2f}s "
            f"node {process_cpu(smsc.process.pid) - node_before:.2f}s"
        )
        await pool.stop()
        return count / submitted, count / with_receipts, cpu
    finally:
        await smsc.stop()


def smpplib_loop(port: int, count: int) -> float:
    """The reference: smpplib's synchronous client, one submit_sm then its resp."""
    import smpplib.client

    logging.getLogger("smpp.Client").setLevel(logging.WARNING)
    client = smpplib.client.Client("127.0.0.1", port, allow_unknown_opt_params=True)
    client.set_message_sent_handler(lambda pdu: None)
    client.connect()
    client.bind_transmitter(system_id="gateway", password="secret")
    began = time.perf_counter()
    for index in range(count):
        client.send_message(
            source_addr="InfoLine",
            destination_addr=f"2547{index:08d}",
            short_message=f"Alert {index}: the north crossing is closed".encode(),
        )
        client.read_once()
    elapsed = time.perf_counter() - began
    client.unbind()
    client.disconnect()
    return count / elapsed


async def smpplib_reference(count: int) -> float:
    smsc = await Simulator.start(lifetime=600)
    try:
        await smsc.configure(record_bodies=False)
        return await asyncio.to_thread(smpplib_loop, smsc.port, count)
    finally:
        await smsc.stop()


async def cap_accuracy(tps: float, seconds: float) -> tuple[int, int, float]:
    smsc = await Simulator.start(lifetime=600)
    try:
        await smsc.configure(record_bodies=False)
        settings = smsc_settings(smsc.port, window=10, tps=tps, request_dlr=False)
        pool = SMPPPool([settings], RecordingSink(), tuning=LinkTuning())
        await pool.start()
        async with asyncio.timeout(10):
            await pool.wait_bound()
        count = int(tps * seconds)
        await pool.send(messages(count, "cap"))
        await pool.stop()
        times = (await smsc.command("submit_times"))["times"]
    finally:
        await smsc.stop()
    start, busiest = 0, 0
    for end, at in enumerate(times):
        while at - times[start] >= 1000.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    span = (times[-1] - times[0]) / 1000.0
    return len(times), busiest, (len(times) - 1) / span


async def main(quick: bool) -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    count = 5000 if quick else 20_000
    print(f"SMPP submit throughput into node-smpp 0.5.1, {count} messages, 1 bind")
    print(
        f"{'window':>6} {'receipts':>8} {'submit msg/s':>13} {'incl. receipts msg/s':>21}"
        "  CPU used (this process, the simulator)"
    )
    for receipts in (False, True):
        for window in (1, 10, 100):
            rate, overall, cpu = await throughput(count, window, receipts)
            shown = f"{overall:21.0f}" if receipts else f"{'-':>21}"
            print(f"{window:>6} {('yes' if receipts else 'no'):>8} {rate:13.0f} {shown}  {cpu}")
    reference = await smpplib_reference(count)
    print(f"reference: smpplib 2.2 synchronous loop (window 1): {reference:.0f} msg/s")
    seconds = 5.0 if quick else 30.0
    sent, busiest, average = await cap_accuracy(100.0, seconds)
    print(
        f"TPS cap 100 over {seconds:.0f} s: {sent} submits, max {busiest} in any 1-s window, "
        f"average {average:.1f}/s"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="5,000 messages and a 5 s cap run")
    try:
        asyncio.run(main(parser.parse_args().quick))
    except IncompleteRun as exc:
        print(f"FAILED, run incomplete: {exc}")
        sys.exit(1)
