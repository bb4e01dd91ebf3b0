"""USSD throughput with one and with two ``gateway serve`` workers sharing one Redis.

    python bench/scaleout_ussd.py [--seconds 10] [--connections 32]

For each worker count, one wrk per worker drives its share of the connections (as a
load balancer with sticky connections would), walking five-request USSD sessions
(bench/ussd.lua); the figures are the sums and the worst percentiles. Everything runs on
this machine, so the load generator, Redis and the workers share its cores: with two
cores, a second worker can only add what the first left idle. Bounded: each run lasts
--seconds, and every process is stopped at the end. Needs wrk and redis-server.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_throughput import SECRET, start, wrk  # noqa: E402
from tests.servers import RedisServer, free_port  # noqa: E402


def run_workers(
    env: dict[str, str], count: int, seconds: int, connections: int
) -> dict[str, float]:
    ports = [free_port() for _ in range(count)]
    workers = [
        start([sys.executable, "-m", "gateway", "serve", "--port", str(port)], env, port)
        for port in ports
    ]
    share = max(1, connections // count)
    try:
        with ThreadPoolExecutor(count) as pool:
            list(pool.map(lambda port: wrk(port, 2, share), ports))  # warm-up
            results = list(pool.map(lambda port: wrk(port, seconds, share), ports))
    finally:
        for worker in workers:
            worker.terminate()
        for worker in workers:
            worker.wait(timeout=30)
    return {
        "rps": sum(r["rps"] for r in results),
        "p50": max(r["p50"] for r in results),
        "p99": max(r["p99"] for r in results),
        "non2xx": sum(r["non2xx"] for r in results),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    results: dict[int, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        redis_server = RedisServer(Path(tmp))
        redis_server.start()
        env = dict(
            os.environ,
            PYTHONPATH=str(ROOT),
            GATEWAY_DATA_DIR=tmp,
            GATEWAY_REDIS_URL=redis_server.url,
            GATEWAY_CALLBACK_SECRET=SECRET,
            GATEWAY_LOG_FORMAT="json",
            GATEWAY_LOG_LEVEL="warning",
        )
        try:
            for count in (1, 2):
                results[count] = run_workers(env, count, args.seconds, args.connections)
        finally:
            redis_server.stop()
    print(
        f"\nUSSD scale-out: {args.connections} connections in total, {args.seconds}s per run, "
        f"{os.cpu_count()} cores shared by wrk, Redis and the workers\n"
    )
    print("| workers | req/s | p50 ms (worst) | p99 ms (worst) | non-2xx |")
    print("|---:|---:|---:|---:|---:|")
    for count, r in results.items():
        print(f"| {count} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']:.0f} |")
    print(f"\nscaling 2 workers / 1 worker: {results[2]['rps'] / results[1]['rps']:.2f}x")


if __name__ == "__main__":
    main()
