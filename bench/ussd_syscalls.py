"""System calls and user/kernel CPU per USSD request: the gateway against the fair baseline.

    python bench/ussd_syscalls.py [--seconds 8] [--rounds 2] [--connections 64]

Starts Redis, the fair baseline (bench/bare_handler.py with one Redis trip) and
``gateway serve`` (default JSON log to a real file) as bench/ussd_throughput.py does,
loads each with the realistic mix (bench/ussd_mix.py) in alternating rounds and, over
each load window, counts the server's system calls with ``perf stat`` on the kernel's
syscall tracepoints (no ptrace, so the server runs at its usual speed, unlike under
strace) and reads its user and kernel CPU time and context switches from /proc. Every
figure is divided by the requests answered; the medians over the rounds are printed.
With ``--loop`` both servers also count the event loop's work (callbacks, timers, tasks,
futures, loop turns: bench/loop_counter/sitecustomize.py), which slows them a little.
With ``--http-setup`` a third server joins the rounds: the baseline inside the gateway's
HTTP set-up (``bench/bare_handler.py --gateway-http``: its middleware, a mounted
sub-app, its access logger), to tell what that set-up costs a request.
Needs perf (run as root) and wrk.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import write_scripts  # noqa: E402
from bench.ussd_throughput import SCRIPTS, flush, gateway_env, start, stop_servers, wrk  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402

SYSCALLS = (
    "recvfrom",
    "sendto",
    "epoll_wait",
    "epoll_ctl",
    "write",
    "read",
    "getpid",
    "futex",
    "accept4",
    "setsockopt",
)
TRACEPOINTS = Path("/sys/kernel/tracing/events/syscalls")


def process_counters(pid: int) -> dict[str, float]:
    """User and kernel CPU seconds and context switches of ``pid`` so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    counters = {"user us": int(fields[11]) / tick * 1e6, "kernel us": int(fields[12]) / tick * 1e6}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
            name, value = line.split(":")
            counters[name.split("_")[0] + " switches"] = int(value)
    return counters


def loop_counts(pid: int, folder: Path | None) -> dict[str, float]:
    """The event loop's counts so far (bench/loop_counter), or none without ``--loop``."""
    if folder is None:
        return {}
    dump = folder / f"{pid}.json"
    dump.unlink(missing_ok=True)
    os.kill(pid, signal.SIGUSR1)
    for _ in range(100):
        if dump.exists() and dump.stat().st_size:
            time.sleep(0.05)  # written in one go; let it finish
            counts: dict[str, float] = json.loads(dump.read_text())
            return {f"loop: {name}": value for name, value in counts.items()}
        time.sleep(0.05)
    raise SystemExit(f"server {pid} wrote no loop counts")


def measure(
    pid: int, port: int, seconds: int, connections: int, mix: Path, counts: Path | None
) -> dict[str, float]:
    events = [f"syscalls:sys_enter_{name}" for name in SYSCALLS]
    events = [e for e in events if (TRACEPOINTS / e.split(":")[1]).exists()]
    events.append("raw_syscalls:sys_enter")
    perf = subprocess.Popen(
        ["perf", "stat", "-x,", "-e", ",".join(events), "-p", str(pid)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(0.3)  # perf attaches
    before = process_counters(pid) | loop_counts(pid, counts)
    result = wrk(port, seconds, connections, mix)
    after = process_counters(pid) | loop_counts(pid, counts)
    perf.send_signal(2)
    _, report = perf.communicate()
    requests = result["requests"]
    per_request = {name: (after[name] - before[name]) / requests for name in after}
    for line in report.splitlines():
        parts = line.split(",")
        if len(parts) > 2 and parts[0].strip().isdigit():
            name = parts[2].removeprefix("syscalls:sys_enter_")
            name = "all system calls" if name == "raw_syscalls:sys_enter" else name
            per_request[name] = int(parts[0]) / requests
    per_request["req/s"] = result["rps"]
    return per_request


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--loop", action="store_true", help="count the event loop's work too")
    parser.add_argument(
        "--http-setup", action="store_true", help="also the baseline in the gateway's HTTP set-up"
    )
    args = parser.parse_args()
    names = ["bare + Redis", *(["bare, gateway HTTP"] if args.http_setup else []), "gateway"]
    rounds: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    with tempfile.TemporaryDirectory() as tmp:
        mix = Path(tmp) / "mix"
        write_scripts(mix, SCRIPTS, max(6000, args.seconds * 400))
        redis_server = RedisServer(Path(tmp))
        redis_server.start()
        env = gateway_env(tmp, redis_server.url)
        counts = Path(tmp) / "loop" if args.loop else None
        if counts is not None:
            counts.mkdir()
            counter = ROOT / "bench" / "loop_counter"
            env = dict(env, PYTHONPATH=f"{counter}:{ROOT}", LOOP_COUNTS_DIR=str(counts))
        bare_port, gateway_port = free_port(), free_port()
        servers: dict[str, tuple[subprocess.Popen[bytes], int]] = {}
        try:
            bare = [sys.executable, str(ROOT / "bench" / "bare_handler.py")]
            bare += ["--port", str(bare_port), "--redis", redis_server.url]
            servers["bare + Redis"] = (start(bare, env, bare_port), bare_port)
            if args.http_setup:
                setup_port = free_port()
                setup = [*bare[:2], "--port", str(setup_port), *bare[4:], "--gateway-http"]
                servers["bare, gateway HTTP"] = (start(setup, env, setup_port), setup_port)
            gateway = [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port)]
            with (Path(tmp) / "gateway.log").open("wb") as log:
                servers["gateway"] = (start(gateway, env, gateway_port, log), gateway_port)
            for _, port in servers.values():
                wrk(port, 3, args.connections, mix)  # warm-up
            for number in range(args.rounds):
                flush(redis_server.url)
                order = names if number % 2 == 0 else names[::-1]
                for name in order:
                    process, port = servers[name]
                    rounds[name].append(
                        measure(process.pid, port, args.seconds, args.connections, mix, counts)
                    )
        finally:
            stop_servers(process for process, _ in servers.values())
            redis_server.stop()
    print(
        f"\nPer USSD request, realistic mix, {args.connections} connections, medians of "
        f"{args.rounds} alternating rounds of {args.seconds}s, {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.1f} at the end\n"
    )
    print(f"| per request | {' | '.join(names)} |")
    print(f"|---|{'---:|' * len(names)}")
    for key in rounds["gateway"][0]:
        medians = [statistics.median(r.get(key, 0.0) for r in rounds[name]) for name in names]
        digits = 0 if key in ("req/s", "user us", "kernel us") else 2
        print(f"| {key} | {' | '.join(f'{m:,.{digits}f}' for m in medians)} |")


if __name__ == "__main__":
    main()
