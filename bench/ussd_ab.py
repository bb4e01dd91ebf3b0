"""A/B of two gateway trees under the same load: did a change make the USSD hop leaner?

    python bench/ussd_ab.py --base DIR [--seconds 8] [--rounds 8] [--connections 64]

``DIR`` holds another copy of the project (e.g. ``git archive main | tar -x -C DIR``);
this tree is B. Both run ``gateway serve`` on one Redis, with the default JSON log to a
real file, and wrk loads them with the realistic mix (bench/ussd_mix.py) in alternating
rounds (A B, B A, ...), so a neighbour's burst on a shared machine falls on both. Each
round gives each server's CPU microseconds per request (from /proc), the figure least
shaken by the machine's load; the medians and the median of the per-round differences
are printed, with req/s and p99 for what they are worth on a loaded machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import write_scripts  # noqa: E402
from bench.ussd_throughput import SCRIPTS, alternating_rounds, gateway_env, start, stop_servers  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--base", type=Path, required=True, help="the other tree (A)")
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    trees = {"A": args.base.resolve(), "B": ROOT}
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        mix_dir = Path(tmp) / "mix"
        write_scripts(mix_dir, SCRIPTS, max(6000, args.seconds * 400))
        redis_server = RedisServer(Path(tmp))
        redis_server.start()
        ports = {name: free_port() for name in trees}
        servers = {}
        try:
            for name, tree in trees.items():
                data = Path(tmp) / name
                data.mkdir()
                env = dict(gateway_env(str(data), redis_server.url), PYTHONPATH=str(tree))
                command = [sys.executable, "-m", "gateway", "serve", "--port", str(ports[name])]
                with (data / "gateway.log").open("wb") as log:
                    servers[name] = start(command, env, ports[name], log)
            rounds = alternating_rounds(servers, ports, redis_server, mix_dir, args)
        finally:
            stop_servers(servers.values())
            redis_server.stop()
    print(
        f"\nA = {trees['A']}, B = {trees['B']}; {args.rounds} alternating rounds of "
        f"{args.seconds}s, {args.connections} connections, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n"
    )
    print("| round | A us/req | B us/req | B - A | A req/s | B req/s | A p99 | B p99 |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for number, r in enumerate(rounds, 1):
        a, b = r["A"], r["B"]
        print(
            f"| {number} | {a['cpu_us']:.0f} | {b['cpu_us']:.0f} | "
            f"{b['cpu_us'] - a['cpu_us']:+.0f} | {a['rps']:.0f} | {b['rps']:.0f} | "
            f"{a['p99']:.1f} | {b['p99']:.1f} |"
        )
    median = {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in ("cpu_us", "rps")}
        for name in trees
    }
    delta = statistics.median(r["B"]["cpu_us"] - r["A"]["cpu_us"] for r in rounds)
    print(
        f"\nmedian CPU us/req: A {median['A']['cpu_us']:.1f}, B {median['B']['cpu_us']:.1f}; "
        f"median per-round B - A {delta:+.1f} us ({delta / median['A']['cpu_us']:+.1%}); "
        f"req/s A {median['A']['rps']:.0f}, B {median['B']['rps']:.0f}"
    )
    failures = sum(r[name]["non2xx"] for r in rounds for name in trees)
    if failures:
        print(f"FAILED: {failures:.0f} non-2xx answers")
        sys.exit(1)


if __name__ == "__main__":
    main()
