"""Where a USSD request's CPU time goes in the gateway: a table per stage, in us.

    python bench/ussd_profile.py [--seconds 20] [--connections 64] [--top 30]

Starts Redis and ``gateway serve`` as bench/ussd_throughput.py does (default JSON log
to a real file), loads it with the realistic mix (bench/ussd_mix.py) and samples the
worker with py-spy (the ``bench`` extra: ``pip install py-spy``; needs ptrace, e.g.
root) the whole time.
Each sample is put in the stage of the innermost frame of its stack that belongs to
one (a log line written inside the commit counts as the log line); a stage's share
of the samples times the worker's CPU per request (from /proc, measured over the same
window) gives its microseconds. py-spy slows the worker a little, so the total is a
little above what bench/ussd_throughput.py reports.

py-spy samples wall time: a worker that is ready to run but waiting for a core counts
as busy where it stands, most often just after a ``send()`` (the write wakes a wrk
thread, which takes the core). On a machine the load generator shares, those waits
swell the "event loop" and ``send()`` stages, the more so the slower the server. So by
default the worker runs alone on the last core and wrk, Redis and py-spy on the others
(``--no-pin``: as before, everything on every core); the shares are then CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import describe, write_scripts  # noqa: E402
from bench.ussd_throughput import SCRIPTS, cpu_seconds, gateway_env, start, wrk  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402

# (stage, markers): a frame belongs to the first stage one of whose markers it holds.
# py-spy's raw frames read "function (path/to/file.py:line)".
STAGES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("log line", ("structlog/", "observability/logs.py")),
    ("metrics", ("prometheus_client/", "observability/metrics.py", "_ussd_observer", "observe (")),
    ("auth (callback secret)", ("is_authentic",)),
    ("form parsing", ("parse_ussd_form", "ussd_dialect.py", "post (aiohttp/web_request.py")),
    ("keyed hashes (session, caller)", ("privacy/numbers.py",)),
    (
        "session load/commit (incl. Redis client)",
        ("ussd/sessions.py", "ussd/redis_pipeline.py", "redis/", "hiredis"),
    ),
    ("engine (memoised)", ("menu/", "_run (gateway/ussd/service.py", "newest_input")),
    ("render (reply text, response)", ("render (", "_text (", "web_response.py")),
    ("service glue", ("ussd/service.py", "ussd_routes.py", "ussd/types.py", "live_tree.py")),
    (
        "aiohttp HTTP server (parse, dispatch, write)",
        ("aiohttp/", "multidict/", "yarl/", "propcache/"),
    ),
    ("event loop", ("asyncio/",)),
)


def stage_of(stack: list[str]) -> str:
    for frame in reversed(stack):  # innermost first
        for stage, markers in STAGES:
            if any(marker in frame for marker in markers):
                return stage
    return "other"


def pin(pid: int, core: int) -> None:
    """Every thread of ``pid`` onto ``core`` (threads it starts later inherit it)."""
    for thread in os.listdir(f"/proc/{pid}/task"):
        os.sched_setaffinity(int(thread), {core})


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=20)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--top", type=int, default=25, help="innermost functions to list")
    parser.add_argument(
        "--server",
        choices=("gateway", "bare"),
        default="gateway",
        help="bare: the baseline (bench/bare_handler.py with one Redis trip), for comparison",
    )
    parser.add_argument("--raw", type=Path, help="keep py-spy's collapsed stacks here")
    parser.add_argument(
        "--no-pin",
        dest="pin",
        action="store_false",
        help="leave the worker on every core, sharing them with the load (wall-time shares)",
    )
    args = parser.parse_args()
    cores = sorted(os.sched_getaffinity(0))
    pinned = args.pin and len(cores) > 1
    if pinned:  # this process, and so Redis, wrk and py-spy, stay off the worker's core
        os.sched_setaffinity(0, cores[:-1])
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mix_dir = folder / "mix"
        mix = write_scripts(mix_dir, SCRIPTS, max(6000, args.seconds * 400))
        redis_server = RedisServer(folder)
        redis_server.start()
        port = free_port()
        raw = folder / "profile.txt"
        try:
            with (folder / "gateway.log").open("wb") as log:
                command = (
                    [sys.executable, "-m", "gateway", "serve", "--port", str(port)]
                    if args.server == "gateway"
                    else [
                        sys.executable,
                        str(ROOT / "bench" / "bare_handler.py"),
                        "--port",
                        str(port),
                        "--redis",
                        redis_server.url,
                    ]
                )
                server = start(
                    command,
                    gateway_env(tmp, redis_server.url),
                    port,
                    log,
                )
                try:
                    if pinned:
                        pin(server.pid, cores[-1])
                    wrk(port, 3, args.connections, mix_dir)  # warm-up
                    spy = subprocess.Popen(
                        [
                            "py-spy",
                            "record",
                            "--pid",
                            str(server.pid),
                            "--rate",
                            "250",
                            "--duration",
                            str(args.seconds),
                            "--format",
                            "raw",
                            "--nonblocking",
                            "--output",
                            str(raw),
                        ],
                        stdout=subprocess.DEVNULL,
                        stderr=subprocess.DEVNULL,
                    )
                    before = cpu_seconds(server.pid)
                    result: dict[str, float] = {}
                    load = threading.Thread(
                        target=lambda: result.update(
                            wrk(port, args.seconds, args.connections, mix_dir)
                        )
                    )
                    load.start()
                    load.join()
                    spent = cpu_seconds(server.pid) - before
                    spy.wait(timeout=args.seconds + 60)
                finally:
                    server.terminate()
                    server.wait()
        finally:
            redis_server.stop()
        if args.raw:
            args.raw.write_text(raw.read_text())
        stages: Counter[str] = Counter()
        leaves: Counter[str] = Counter()
        for line in raw.read_text().splitlines():
            stack_text, _, count = line.rpartition(" ")
            if not count.isdigit():
                continue
            stack = stack_text.split(";")
            stages[stage_of(stack)] += int(count)
            leaves[stack[-1]] += int(count)
    total = sum(stages.values())
    per_request = spent / result["requests"] * 1e6
    print(
        f"\nUSSD profile of {args.server}: py-spy over {args.seconds}s of the realistic mix at "
        f"{args.connections} connections ({result['rps']:,.0f} req/s, {total:,} samples), "
        f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.1f}, "
        f"{'worker alone on one core' if pinned else 'worker and load sharing the cores'}"
        f"\n{describe(mix)}\n"
    )
    print("| stage | share | us/request |")
    print("|---|---:|---:|")
    for stage, samples in stages.most_common():
        print(f"| {stage} | {100 * samples / total:.1f} % | {per_request * samples / total:.0f} |")
    print(f"| **total (worker CPU from /proc)** | 100 % | **{per_request:.0f}** |")
    if args.top:
        print(f"\nInnermost functions (top {args.top}):\n")
        for frame, samples in leaves.most_common(args.top):
            share = samples / total
            print(f"{100 * share:5.1f} %  {per_request * share:5.1f} us  {frame}")


if __name__ == "__main__":
    main()
