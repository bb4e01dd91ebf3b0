"""Instructions per USSD request, counted by callgrind: a figure a loaded machine does
not shake, for telling whether a change made the hop leaner.

    python bench/ussd_instructions.py [--base DIR ...] [--seconds 60] [--warm-up 30]

Runs ``gateway serve`` (each ``DIR``'s copy of the project, e.g. ``git archive COMMIT |
tar -x -C DIR``, then this tree, one after the other on one Redis) under ``valgrind
--tool=callgrind`` with instrumentation off, warms it with the realistic mix
(bench/ussd_mix.py, wrk, 64 connections), then counts the instructions the server
executes while wrk loads it for ``--seconds`` (``callgrind_control``: zero, load,
dump) and divides by the requests answered. Under
callgrind a server runs some fifty times slower, so with 64 connections every one
always has a request waiting: batches (Redis pipelining, the event loop's) are larger
than on a real run and vary by a few per cent from run to run; ``--hop`` counts
instead the gateway's own work without HTTP, one request at a time
(bench/ussd_hop_loop.py: form dict to screen text, with Redis, the log line and the
metrics), the most repeatable count. Needs valgrind and wrk.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import write_scripts  # noqa: E402
from bench.ussd_throughput import SCRIPTS, flush, gateway_env, start, wrk  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402


def count(tree: Path, tmp: Path, redis_url: str, args: argparse.Namespace, mix: Path) -> float:
    """Instructions per request of ``tree``'s gateway."""
    data = Path(tempfile.mkdtemp(dir=tmp))
    port = free_port()
    env = dict(gateway_env(str(data), redis_url), PYTHONPATH=str(tree))
    out = data / "callgrind.out"
    command = [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={out}",
        sys.executable,
        "-m",
        "gateway",
        "serve",
        "--port",
        str(port),
    ]
    with (data / "gateway.log").open("wb") as log:
        server = start(command, env, port, log)
    try:
        flush(redis_url)
        wrk(port, args.warm_up, args.connections, mix)
        control = ["callgrind_control", str(server.pid)]
        subprocess.run([*control, "--instr=on"], check=True, capture_output=True)
        subprocess.run([*control, "--zero"], check=True, capture_output=True)
        result = wrk(port, args.seconds, args.connections, mix)
        subprocess.run([*control, "--dump=load"], check=True, capture_output=True)
    finally:
        server.terminate()
        server.wait()
    if result["non2xx"]:
        raise SystemExit(f"{tree}: {result['non2xx']:.0f} non-2xx answers")
    return _dumped(data, "load") / float(result["requests"])


def count_hop(tree: Path, tmp: Path, redis_url: str, args: argparse.Namespace, mix: Path) -> float:
    """Instructions per request of ``tree``'s hop without HTTP (bench/ussd_hop_loop.py)."""
    data = Path(tempfile.mkdtemp(dir=tmp))
    env = dict(gateway_env(str(data), redis_url), PYTHONPATH=str(tree))
    out = data / "callgrind.out"
    flush(redis_url)
    with (data / "gateway.log").open("wb") as log:
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                sys.executable,
                str(ROOT / "bench" / "ussd_hop_loop.py"),
                str(mix),
                "--callgrind",
                "--warm-up",
                str(args.requests),
                "--requests",
                str(args.requests),
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=log,
            check=True,
        )
    return _dumped(data, "loop") / int(args.requests)


def _dumped(data: Path, name: str) -> int:
    """The instructions callgrind counted up to the dump named ``name``."""
    for dump in data.glob("callgrind.out*"):
        text = dump.read_text(errors="replace")
        if f"desc: Trigger: dump {name}" in text:
            found = re.search(r"^(?:totals|summary): (\d+)", text, re.MULTILINE)
            if found:
                return int(found.group(1))
    raise SystemExit(f"{data}: callgrind wrote no dump {name!r}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--base", type=Path, action="append", default=[], help="another copy, counted first"
    )
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--warm-up", type=int, default=30)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=1, help="count every tree this often")
    parser.add_argument(
        "--hop",
        action="store_true",
        help="count the hop without HTTP, one request at a time (bench/ussd_hop_loop.py)",
    )
    parser.add_argument("--requests", type=int, default=3000, help="with --hop: warm-up, counted")
    args = parser.parse_args()
    trees = [base.resolve() for base in args.base] + [ROOT]
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        mix = tmp / "mix"
        write_scripts(mix, SCRIPTS, 6000)
        redis_server = RedisServer(tmp)
        redis_server.start()
        runs: dict[Path, list[float]] = {tree: [] for tree in trees}
        try:
            for _ in range(args.rounds):
                for tree in trees:
                    measure = count_hop if args.hop else count
                    runs[tree].append(measure(tree, tmp, redis_server.url, args, mix))
                    print(f"{tree}: {runs[tree][-1]:,.0f} instructions per request", flush=True)
        finally:
            redis_server.stop()
    counts = {tree: statistics.median(found) for tree, found in runs.items()}
    shape = (
        f"{args.requests} requests one at a time after as many, no HTTP"
        if args.hop
        else f"{args.connections} connections, {args.seconds}s of load"
    )
    print(f"\nmedians of {args.rounds} round(s), {shape} each:")
    for tree, per_request in counts.items():
        print(f"{tree}: {per_request:,.0f} instructions per request (callgrind)")
    first = counts[trees[0]]
    for tree in trees[1:]:
        print(
            f"{tree} - {trees[0]}: {counts[tree] - first:+,.0f} ({counts[tree] / first - 1:+.1%})"
        )


if __name__ == "__main__":
    main()
