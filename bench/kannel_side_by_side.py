"""The durable broadcast with receipts, through the gateway and through Kannel, side by side.

Prints a table; not a test. Run: ``python bench/kannel_side_by_side.py [--recipients N]
[--grant TPS]``. Installs Debian's ``kannel`` package (bearerbox + smsbox 1.4.5) with
apt-get when ``bearerbox`` is missing (needs root); Kannel is only configured
(``bench/kannel/kannel.conf.template``) and run, never copied.

Both sides send the same N messages (one English text, one SMS part each) to the
same node-smpp simulator (tests/smsc), which grants ``--grant`` submits per second
(beyond it: ESME_RTHROTTLED) and sends a receipt for every message; both are set to
that grant and to a window of 100 outstanding submits.

- gateway: ``python -m gateway broadcast run`` in a subprocess, SQLite store (the
  outbox: one row per recipient), receipts recorded in the store. Timed from the
  moment the alert is marked sending (the worker is already bound) to the last row
  final (``max(final_at)``).
- Kannel: bearerbox with its store file (``store-type = file``) and DLRs on
  (``dlr-storage = internal``), smsbox; every message posted to smsbox's HTTP
  ``/cgi-bin/sendsms`` (100 requests at a time, from this process) with ``dlr-mask``
  for final states and a ``dlr-url`` to a small HTTP receiver in this process that
  counts each message's final receipt. Timed from the first sendsms request to the
  last final receipt received.

A run counts only when every message has its receipt and every row (gateway) or
message (Kannel) is final and delivered; otherwise the script says what is missing
and exits 1. msgs/s = N / time to all-final. Peak RSS: the gateway worker's
``ru_maxrss`` (wait4; its store is in the process); Kannel's bearerbox + smsbox
``VmHWM`` at the end of the run (Kannel's store is in bearerbox).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import aiohttp
import structlog
from aiohttp import web

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cryptography.fernet import Fernet  # noqa: E402

from gateway.broadcast.alert_service import AlertDraft, AlertService  # noqa: E402
from gateway.privacy.numbers import NumberVault, PhoneHasher  # noqa: E402
from gateway.settings import Secret  # noqa: E402
from gateway.store.audit_anchor import AuditAnchor, AuditSeal  # noqa: E402
from gateway.store.sql_store import SQLStore  # noqa: E402
from tests.broadcast.seeding import seed_subscribers  # noqa: E402
from tests.servers import free_port  # noqa: E402
from tests.smpp.smsc_driver import Simulator  # noqa: E402

HASH_KEY = "bench-hash-key-" + "x" * 32
AUDIT_KEY = "bench-audit-key-" + "x" * 32  # approving an alert writes audit rows
ENCRYPTION_KEY = Fernet.generate_key().decode()
TEMPLATE = ROOT / "bench" / "kannel" / "kannel.conf.template"
TEXT = "The north crossing is closed until Monday. Use the east road."  # sample
PREFIX = "Info:"
WINDOW = 100
SENDSMS_AT_ONCE = 100
FINAL_DLR = {1: "delivered", 2: "failed", 16: "rejected"}  # Kannel's dlr types


class IncompleteRun(Exception):
    """A run that did not finish: no figure is printed for it."""


def peak_rss_kib(pid: int) -> int:
    """VmHWM (the peak resident set) in KiB from /proc; 0 when gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


@dataclass
class Figures:
    name: str
    messages: int
    seconds: float  # time to all-final
    peak_rss_mib: float
    throttled: int

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0


def numbers(count: int) -> list[str]:
    return [f"+2547{index:08d}" for index in range(count)]


def ensure_kannel() -> None:
    """Install Debian's kannel package when bearerbox is missing."""
    if shutil.which("bearerbox") and shutil.which("smsbox"):
        return
    print("kannel: bearerbox not found, installing Debian's kannel package (apt-get)")
    if os.geteuid() != 0:
        raise SystemExit("kannel is not installed and this is not root: apt-get install kannel")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "kannel"]
    if subprocess.run(install, env=env, check=False).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], env=env, check=True)
        subprocess.run(install, env=env, check=True)
    if not shutil.which("bearerbox"):
        raise SystemExit("kannel installed, but bearerbox is still not on PATH")


async def start_simulator(grant: float, lifetime: float) -> Simulator:
    smsc = await Simulator.start(lifetime=lifetime)
    await smsc.configure(
        dlr=True, record_bodies=False, grant_tps=int(grant), dlr_id_format="hex", dlr_tlv=True
    )
    return smsc


async def poll(check: Callable[[], Any], within: float, what: str, every: float = 0.2) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        await asyncio.sleep(every)
    raise IncompleteRun(f"{what} not within {within:.0f} s")


# --- the gateway ----------------------------------------------------------------------


async def run_gateway(count: int, grant: float, workdir: Path, deadline: float) -> Figures:
    db_path = workdir / "gateway.db"
    store = await SQLStore.open(
        db_path, AuditSeal(AUDIT_KEY.encode(), AuditAnchor(workdir / "audit-anchor.jsonl"))
    )
    hasher, vault = PhoneHasher(Secret(HASH_KEY)), NumberVault(Secret(ENCRYPTION_KEY))
    seed_subscribers(db_path, hasher, vault, numbers(count), languages=("en",))
    smsc = await start_simulator(grant, deadline + 600)
    ops_port = free_port()
    smsc_json = [
        {
            "name": "sim", "host": "127.0.0.1", "port": smsc.port, "system_id": "gateway",
            "password": "secret", "window": WINDOW, "tps": grant, "source_addr": "InfoLine",
        }
    ]  # fmt: skip
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "GATEWAY_DATA_DIR": str(workdir),
        "GATEWAY_DB": str(db_path),
        "GATEWAY_HASH_KEY": HASH_KEY,
        "GATEWAY_AUDIT_KEY": AUDIT_KEY,
        "GATEWAY_ENCRYPTION_KEY": ENCRYPTION_KEY,
        "GATEWAY_CALLBACK_SECRET": "bench-callback-secret-000",
        "GATEWAY_SMS_CHANNEL": "smpp",
        "GATEWAY_SMSC": json.dumps(smsc_json),
        "GATEWAY_SMS_PREFIX": PREFIX,
        "GATEWAY_LOG_FORMAT": "json",
        "GATEWAY_LOG_LEVEL": "warning",
        "GATEWAY_WORKER_PORT": str(ops_port),
    }
    usage: list[Any] = []
    reader = sqlite3.connect(db_path)
    with (workdir / "gateway-worker.log").open("wb") as log_file:
        # A plain Popen reaped by wait4 (its peak RSS), as bench/broadcast_throughput.py.
        worker = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "gateway", "broadcast", "run", "--batch-size", "500"],
            cwd=ROOT, env=env, stdout=log_file, stderr=subprocess.STDOUT,
        )  # fmt: skip
    waiter = threading.Thread(target=lambda: usage.append(os.wait4(worker.pid, 0)[2]))
    waiter.start()
    try:
        async with aiohttp.ClientSession() as http:

            async def ready() -> bool:
                try:
                    url = f"http://127.0.0.1:{ops_port}/readyz"
                    async with http.get(url) as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return False

            await poll(ready, 60, "the gateway worker bound and ready")
        alerts = AlertService(store)
        now = time.time()
        draft = AlertDraft(
            texts={"en": TEXT},
            fallback_language="en",
            topics=("hotlines",),
            source="bench",
            author="alice",
            expires_at=now + deadline + 3600,
        )
        alert = await alerts.create(draft, now)
        await alerts.approve(alert, "bob", now)
        started = time.time()
        await alerts.send(alert, "bob", started)

        def all_final() -> bool:
            open_rows = reader.execute(
                "SELECT count(*) FROM outbox WHERE broadcast_id = ? AND state IN "
                "('queued', 'claimed', 'submitted')",
                (alert,),
            ).fetchone()[0]
            expanded = reader.execute(
                "SELECT expansion_done FROM broadcasts WHERE id = ?", (alert,)
            ).fetchone()[0]
            return bool(expanded) and open_rows == 0

        with contextlib.suppress(IncompleteRun):  # said below, with the counts
            await poll(all_final, deadline, "every gateway row final", every=0.1)
        last_final = reader.execute(
            "SELECT max(final_at) FROM outbox WHERE broadcast_id = ?", (alert,)
        ).fetchone()[0]
        counts = dict((await store.outbox_counts(alert)).counts)
    finally:
        worker.send_signal(signal.SIGTERM)
        waiter.join(timeout=60)
        if waiter.is_alive():
            worker.kill()
            waiter.join()
        reader.close()
        throttled = int((await smsc.stats())["throttled"])
        await smsc.stop()
        await store.close()
    if counts != {"delivered": count}:
        raise IncompleteRun(
            f"gateway: rows {counts}; every one of {count} rows must be final and delivered"
        )
    return Figures(
        "gateway",
        count,
        float(last_final) - started,
        (usage[0].ru_maxrss if usage else 0) / 1024,
        throttled,
    )


# --- Kannel ---------------------------------------------------------------------------


class DLRCounter:
    """The dlr-url's receiver: the first final receipt of each message, and when."""

    def __init__(self) -> None:
        self.final: dict[int, str] = {}
        self.last_at = 0.0
        self.posts = 0

    async def handle(self, request: web.Request) -> web.Response:
        self.posts += 1
        try:
            message = int(request.query["id"])
            kind = int(request.query["type"])
        except (KeyError, ValueError):
            return web.Response(status=400, text="id and type are numbers")
        if kind in FINAL_DLR and message not in self.final:
            self.final[message] = FINAL_DLR[kind]
            self.last_at = time.time()
        return web.Response(text="ok")


def _start_box(binary: str, config: Path, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log_file:
        # -v 2: warnings and worse on the console, as in the log file (the default,
        # debug, would cost Kannel CPU the gateway does not spend).
        return subprocess.Popen(
            [binary, "-v", "2", str(config)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=config.parent,
        )


async def run_kannel(count: int, grant: float, workdir: Path, deadline: float) -> Figures:
    ensure_kannel()
    kannel_dir = workdir / "kannel"
    kannel_dir.mkdir()
    smsc = await start_simulator(grant, deadline + 600)
    ports = {"admin_port": free_port(), "smsbox_port": free_port(), "sendsms_port": free_port()}
    config = kannel_dir / "kannel.conf"
    config.write_text(
        string.Template(TEMPLATE.read_text()).substitute(
            workdir=kannel_dir, smsc_port=smsc.port, grant=int(grant), window=WINDOW, **ports
        )
    )
    counter = DLRCounter()
    app = web.Application()
    app.router.add_get("/dlr", counter.handle)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    dlr_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", dlr_port).start()
    bearerbox = _start_box("bearerbox", config, kannel_dir / "bearerbox.out")
    smsbox: subprocess.Popen[bytes] | None = None
    hwm = 0
    try:
        async with aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=SENDSMS_AT_ONCE)
        ) as http:

            async def smsc_online() -> bool:
                url = f"http://127.0.0.1:{ports['admin_port']}/status.txt?password=bench"
                try:
                    async with http.get(url) as response:
                        text = await response.text()
                except aiohttp.ClientError:
                    return False
                return "online" in text and "sim" in text

            await poll(smsc_online, 60, "Kannel's bearerbox bound to the simulator")
            smsbox = _start_box("smsbox", config, kannel_dir / "smsbox.out")
            sendsms = f"http://127.0.0.1:{ports['sendsms_port']}/cgi-bin/sendsms"

            async def smsbox_up() -> bool:
                try:
                    async with http.get(sendsms) as response:
                        return response.status in (202, 400, 403)
                except aiohttp.ClientError:
                    return False

            await poll(smsbox_up, 60, "Kannel's smsbox answering sendsms")
            refused: list[str] = []
            queue: asyncio.Queue[tuple[int, str]] = asyncio.Queue()
            for index, number in enumerate(numbers(count)):
                queue.put_nowait((index, number))

            async def send_all() -> None:
                while not queue.empty():
                    index, number = queue.get_nowait()
                    dlr_url = f"http://127.0.0.1:{dlr_port}/dlr?id={index}&type=%d"
                    query = urlencode(
                        {
                            "username": "bench",
                            "password": "bench",
                            "from": "InfoLine",
                            "to": number.removeprefix("+"),
                            "text": f"{PREFIX} {TEXT}",
                            "dlr-mask": "19",  # delivered, failed, rejected by the SMSC
                            "dlr-url": dlr_url,
                        }
                    )
                    async with http.get(f"{sendsms}?{query}") as response:
                        body = await response.text()
                        if response.status != 202:
                            refused.append(f"{response.status} {body.strip()}")

            started = time.time()
            await asyncio.gather(*(send_all() for _ in range(SENDSMS_AT_ONCE)))
            if refused:
                raise IncompleteRun(f"Kannel refused {len(refused)} sendsms: {refused[0]}")
            with contextlib.suppress(IncompleteRun):  # said below, with the counts
                await poll(lambda: len(counter.final) >= count, deadline, "every Kannel DLR")
            hwm = sum(peak_rss_kib(box.pid) for box in (bearerbox, smsbox) if box.poll() is None)
    finally:
        for box in (smsbox, bearerbox):
            if box is not None and box.poll() is None:
                box.send_signal(signal.SIGTERM)
                try:
                    box.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    box.kill()
                    box.wait()
        await runner.cleanup()
        throttled = int((await smsc.stats())["throttled"])
        await smsc.stop()
    outcomes: dict[str, int] = {}
    for state in counter.final.values():
        outcomes[state] = outcomes.get(state, 0) + 1
    if outcomes != {"delivered": count}:
        raise IncompleteRun(
            f"Kannel: final receipts {outcomes} for {count} messages ({counter.posts} DLR "
            "posts); every message must have its receipt and be delivered"
        )
    return Figures("Kannel 1.4.5", count, counter.last_at - started, hwm / 1024, throttled)


async def main(count: int, grant: float, deadline: float, keep: bool, sides: str) -> int:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    ensure_kannel()
    workdir = Path(tempfile.mkdtemp(prefix="kannel-side-by-side-"))
    results: list[Figures] = []
    failed: list[str] = []
    try:
        for name, run in (("gateway", run_gateway), ("Kannel", run_kannel)):
            if sides != "both" and sides != name.lower():
                continue
            side = workdir / name
            side.mkdir()
            print(f"{name}: {count:,} messages at a grant of {grant:.0f} TPS ...", flush=True)
            try:
                results.append(await run(count, grant, side, deadline))
            except IncompleteRun as exc:
                failed.append(str(exc))
                print(f"FAILED, run incomplete: {exc}", flush=True)
    finally:
        if keep:
            print(f"logs and stores kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if not results:
        return 1
    print()
    print(f"{count:,} messages, receipts on, node-smpp simulator granting {grant:.0f} TPS")
    print(
        f"| {'side':<14} | {'msgs/s':>8} | {'time to all-final':>17} | {'peak RSS':>9} "
        f"| {'throttled':>9} |"
    )
    print(f"|{'-' * 16}|{'-' * 10}:|{'-' * 19}:|{'-' * 11}:|{'-' * 11}:|")
    for figures in results:
        print(
            f"| {figures.name:<14} | {figures.rate:>8.0f} | {figures.seconds:>15.2f} s "
            f"| {figures.peak_rss_mib:>5.0f} MiB | {figures.throttled:>9} |"
        )
    if failed:
        print(f"FAILED: {len(failed)} side(s) incomplete, their figures are not shown")
    return 1 if failed else 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipients", type=int, default=5000)
    parser.add_argument("--grant", type=float, default=500.0, help="the simulator's TPS grant")
    parser.add_argument("--deadline", type=float, default=900.0, help="seconds per side")
    parser.add_argument("--keep", action="store_true", help="keep the logs and stores")
    parser.add_argument("--side", choices=("both", "gateway", "kannel"), default="both")
    args = parser.parse_args()
    if args.recipients < 1 or args.recipients > 10**8 or args.grant < 1:
        parser.error("--recipients must be 1..100,000,000 and --grant at least 1")
    sys.exit(asyncio.run(main(args.recipients, args.grant, args.deadline, args.keep, args.side)))
