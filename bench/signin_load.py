"""USSD latency while operators sign in: the figure behind "60 parallel sign-ins leave
USSD p99 under 50 ms" (issue #14, item 1).

    python bench/signin_load.py [--seconds 20] [--rounds 3] [--rate 100] [--signins 60]

``gateway serve`` as shipped (sessions in a real Redis, the SQLite store, the console
mounted, JSON log to a file), behind a trusted proxy as the shipped nginx is
(``GATEWAY_TRUSTED_PROXIES=127.0.0.1``). Two kinds of phases alternate, ``--rounds``
times each:

- **quiet**: Africa's Talking USSD callbacks only, the realistic mix of
  bench/ussd_mix.py replayed at a steady ``--rate`` requests a second (open loop: each
  request's latency counts from when it was due, so a stalled server is not hidden by
  requests that were never sent);
- **sign-ins**: the same USSD load, plus ``--signins`` operators signing in to the
  console at once, again and again (each: the login page, then the form with the
  right password, checked with argon2id), each from an address of its own
  (``X-Forwarded-For``, RFC 5737 documentation addresses) so the sign-in throttle lets
  every attempt reach the password check.

Printed: USSD p50/p99/max per phase kind (all rounds pooled) and sign-ins per second.
Exit 1 if a USSD answer was not 200, a busy screen was served, or a sign-in failed.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import write_scripts  # noqa: E402
from bench.ussd_throughput import SECRET, flush, gateway_env, log_problems, start  # noqa: E402
from gateway.console.passwords import Passwords  # noqa: E402
from gateway.store.sql_store import SQLStore  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402

TARGET_P99_MS = 50.0
SCRIPTS = 16
PASSWORD = "bench operator pass phrase 2026"  # sample, for the bench's own accounts
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class Phase:
    ussd_ms: list[float] = field(default_factory=list)
    ussd_failures: int = 0
    signins: int = 0
    signin_ms: list[float] = field(default_factory=list)
    signin_failures: int = 0
    seconds: float = 0.0
    wall: tuple[float, float] = (0.0, 0.0)  # time.time() at start and end
    served_ms: list[float] = field(default_factory=list)  # the gateway's own log lines


def read_scripts(folder: Path) -> list[list[tuple[str, int, str]]]:
    scripts = []
    for number in range(SCRIPTS):
        lines = (folder / f"mix-{number}.txt").read_text().splitlines()
        callers = int(lines[0])
        entries = []
        for line in lines[1:]:
            session, caller, tail = line.split(" ", 2)
            entries.append((session, int(caller), tail))
        scripts.append(entries)
        assert callers > 0
    return scripts


async def ussd_worker(
    http: aiohttp.ClientSession,
    url: str,
    script: list[tuple[str, int, str]],
    worker: int,
    run: int,
    interval: float,
    start_at: float,
    stop_at: float,
    phase: Phase,
) -> None:
    """One connection replaying its script in order (a session's requests one after
    the other, as AT sends them), one request every ``interval`` seconds."""
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Callback-Key": SECRET,
    }
    count = 0
    while True:
        due = start_at + count * interval
        if due >= stop_at:
            return
        delay = due - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        session, caller, tail = script[count % len(script)]
        lap = count // len(script)
        # +25470 and 7 digits, as bench/ussd.lua: run, worker, caller of this lap.
        number = f"{run % 10}{worker % 100:02d}{(lap * 150 + caller) % 10000:04d}"
        body = f"sessionId=s{run}-{worker}-{lap}-{session}&phoneNumber=%2B25470{number}{tail}"
        count += 1
        async with http.post(url, data=body.encode(), headers=headers) as response:
            await response.read()
        phase.ussd_ms.append((time.perf_counter() - due) * 1000)
        if response.status != 200:
            phase.ussd_failures += 1


async def signin_worker(base: str, operator: int, stop_at: float, phase: Phase) -> None:
    """One operator signing in again and again, from an address of their own."""
    address = f"198.51.100.{operator + 1}"
    headers = {"X-Forwarded-For": address}
    # unsafe: the cookie jar keeps cookies of an IP address (127.0.0.1)
    jar = aiohttp.CookieJar(unsafe=True)
    async with aiohttp.ClientSession(headers=headers, cookie_jar=jar) as http:
        while time.perf_counter() < stop_at:
            http.cookie_jar.clear()
            began = time.perf_counter()
            async with http.get(f"{base}/console/login") as page:
                found = CSRF.search(await page.text())
            form = {
                "csrf_token": found.group(1) if found else "",
                "next": "",
                "username": f"bench-op-{operator:02d}",
                "password": PASSWORD,
            }
            async with http.post(
                f"{base}/console/login", data=form, allow_redirects=False
            ) as response:
                await response.read()
            if response.status == 303:
                phase.signins += 1
                phase.signin_ms.append((time.perf_counter() - began) * 1000)
            else:
                phase.signin_failures += 1


async def run_phase(
    port: int,
    scripts: list[list[tuple[str, int, str]]],
    run: int,
    args: argparse.Namespace,
    signins: int,
) -> Phase:
    phase = Phase()
    base = f"http://127.0.0.1:{port}"
    workers = args.connections
    interval = workers / args.rate
    connector = aiohttp.TCPConnector(limit=workers)
    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.perf_counter()
        wall_start = time.time()
        start_at = began + 0.2
        stop_at = start_at + args.seconds
        tasks = [
            ussd_worker(
                http,
                f"{base}/africastalking/ussd",
                scripts[worker % SCRIPTS],
                worker,
                run,
                interval,
                start_at + worker * interval / workers,  # spread evenly
                stop_at,
                phase,
            )
            for worker in range(workers)
        ]
        tasks += [signin_worker(base, operator, stop_at, phase) for operator in range(signins)]
        await asyncio.gather(*tasks)
        phase.seconds = time.perf_counter() - start_at
        phase.wall = (wall_start, time.time())
    return phase


def served_latencies(log_file: Path, phases: dict[str, list[Phase]]) -> None:
    """Each phase's USSD requests as the gateway timed them (its ``ussd.request``
    lines, by timestamp): the service's own time, without the client's."""
    for line in log_file.read_text(errors="replace").splitlines():
        if '"event":"ussd.request"' not in line:
            continue
        event = json.loads(line)
        stamp = dt.datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00")).timestamp()
        for phase in (p for runs in phases.values() for p in runs):
            if phase.wall[0] <= stamp <= phase.wall[1]:
                phase.served_ms.append(float(event["latency_ms"]))


async def create_operators(db: Path, count: int) -> None:
    store = await SQLStore.open(db)
    try:
        hashed = Passwords().hash(PASSWORD)
        for operator in range(count):
            await store.create_operator(f"bench-op-{operator:02d}", hashed, "editor", time.time())
    finally:
        await store.close()


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def served(runs: list[Phase]) -> str:
    values = [value for phase in runs for value in phase.served_ms]
    if not values:
        return "-"
    return f"{statistics.median(values):.1f} / {percentile(values, 0.99):.1f}"


def report(
    args: argparse.Namespace, phases: dict[str, list[Phase]], problems: dict[str, int]
) -> int:
    print(
        f"\nUSSD at {args.rate:.0f} req/s (realistic mix, {args.connections} connections, open "
        f"loop) with and without {args.signins} operators signing in at once; "
        f"{args.rounds} alternating rounds of {args.seconds}s; {os.cpu_count()} cores, load "
        f"average {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(
        "| phase | USSD requests | p50 ms | p99 ms | max ms | gateway's own p50 / p99 ms "
        "| sign-ins/s | sign-in p50 ms |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    failed = 0
    summary = {}
    for name, runs in phases.items():
        ussd = [value for phase in runs for value in phase.ussd_ms]
        signin = [value for phase in runs for value in phase.signin_ms]
        seconds = sum(phase.seconds for phase in runs)
        signins = sum(phase.signins for phase in runs)
        p99 = percentile(ussd, 0.99)
        summary[name] = p99
        print(
            f"| {name} | {len(ussd):,} | {statistics.median(ussd):.1f} | {p99:.1f} "
            f"| {max(ussd):.1f} | {served(runs)} | {signins / seconds:.1f} "
            f"| {statistics.median(signin) if signin else 0:.0f} |"
        )
        failed += sum(p.ussd_failures + p.signin_failures for p in runs)
    per_round = ", ".join(f"{percentile(phase.ussd_ms, 0.99):.1f}" for phase in phases["sign-ins"])
    p99 = summary["sign-ins"]
    print(
        f"\nUSSD p99 during sign-ins {p99:.1f} ms (per round: {per_round}); target "
        f"{TARGET_P99_MS:.0f} ms: {'met' if p99 <= TARGET_P99_MS else 'MISSED'}"
    )
    print(f"gateway log: {problems}")
    if failed or problems["busy screens"] or problems["errors"]:
        print("FAILED: non-200 answers, busy screens, failed sign-ins or errors (see above)")
        return 1
    return 0


async def measure(
    port: int, scripts: list[list[tuple[str, int, str]]], args: argparse.Namespace, redis_url: str
) -> dict[str, list[Phase]]:
    phases: dict[str, list[Phase]] = {"quiet": [], "sign-ins": []}
    await run_phase(port, scripts, 0, argparse.Namespace(**{**vars(args), "seconds": 3}), 2)
    for number in range(args.rounds):
        order = ("quiet", "sign-ins") if number % 2 == 0 else ("sign-ins", "quiet")
        for name in order:
            flush(redis_url)
            signins = args.signins if name == "sign-ins" else 0
            run = 1 + number * 2 + (name == "sign-ins")
            phases[name].append(await run_phase(port, scripts, run, args, signins))
    return phases


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--rate", type=float, default=100.0, help="USSD requests a second")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--signins", type=int, default=60)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        mix_dir = Path(tmp) / "mix"
        write_scripts(mix_dir, SCRIPTS, max(2000, int(args.rate * args.seconds * 2 / SCRIPTS)))
        scripts = read_scripts(mix_dir)
        data = Path(tmp) / "var"
        asyncio.run(create_operators(data / "gateway.db", args.signins))
        redis_server = RedisServer(Path(tmp))
        redis_server.start()
        env = dict(
            gateway_env(str(data), redis_server.url),
            GATEWAY_TRUSTED_PROXIES="127.0.0.1",
        )
        port = free_port()
        log_file = Path(tmp) / "gateway.log"
        server: subprocess.Popen[bytes] | None = None
        try:
            with log_file.open("wb") as log:
                server = start(
                    [sys.executable, "-m", "gateway", "serve", "--port", str(port)], env, port, log
                )
                phases = asyncio.run(measure(port, scripts, args, redis_server.url))
        finally:
            if server is not None:
                server.terminate()
                server.wait()
            redis_server.stop()
        problems = log_problems(log_file)
        served_latencies(log_file, phases)
    return report(args, phases, problems)


if __name__ == "__main__":
    sys.exit(main())
