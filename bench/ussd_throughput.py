"""USSD benchmark: the full hop (AT form POST, engine, Redis session) against a bare
aiohttp handler doing one Redis round trip, side by side in one run; and engine steps
per second on one core.

    python bench/ussd_throughput.py [--seconds 15] [--connections 64]

Needs wrk and redis-server (tests/install.sh installs both). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, free_port, wait_for_port  # noqa: E402

SECRET = "bench-callback-secret-0123456789"


def wrk(port: int, seconds: int, connections: int) -> dict[str, float]:
    out = subprocess.run(
        [
            "wrk",
            f"-t{connections}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "ussd.lua"),
            f"http://127.0.0.1:{port}",
        ],
        capture_output=True,
        text=True,
        env=dict(os.environ, BENCH_SECRET=SECRET),
        timeout=seconds + 30,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(name: str) -> float:
        match = re.search(rf"^\s+{name}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {
        "rps": rps,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
    }


def start(cmd: list[str], env: dict[str, str], port: int) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for_port(port, 20)
    return process


def engine_steps_per_second(seconds: float = 3.0) -> float:
    from gateway.content import load_catalogs
    from gateway.menu.engine import start as begin
    from gateway.menu.engine import step
    from gateway.menu.loader import load_tree_file

    tree = load_tree_file(ROOT / "menus" / "safe-journey.yaml", load_catalogs(ROOT / "content"))
    walk = ["1", "1", "98", "0", "00", "3", "1", "0", "2", "1", "00", "4"]
    steps = 0
    deadline = time.perf_counter() + seconds
    began = time.perf_counter()
    while time.perf_counter() < deadline:
        result = begin(tree, language="en", country="KE")
        for entry in walk:
            result = step(tree, result.state, entry)
        steps += len(walk) + 1
    return steps / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
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
        )
        results: dict[str, dict[str, float]] = {}
        try:
            bare_port = free_port()
            bare = start(
                [
                    sys.executable,
                    str(ROOT / "bench" / "bare_handler.py"),
                    "--port",
                    str(bare_port),
                    "--redis",
                    redis_server.url,
                ],
                env,
                bare_port,
            )
            try:
                wrk(bare_port, 3, args.connections)  # warm-up
                results["bare aiohttp + 1 Redis GET"] = wrk(
                    bare_port, args.seconds, args.connections
                )
            finally:
                bare.terminate()
                bare.wait()
            port = free_port()
            gateway = start(
                [sys.executable, "-m", "gateway", "serve", "--port", str(port)], env, port
            )
            try:
                wrk(port, 3, args.connections)
                results["gateway full hop (AT form, engine, Redis)"] = wrk(
                    port, args.seconds, args.connections
                )
            finally:
                gateway.terminate()
                gateway.wait()
        finally:
            redis_server.stop()
    print(
        f"\nUSSD at {args.connections} connections, {args.seconds}s each, {os.cpu_count()} cores\n"
    )
    print("| server | req/s | p50 ms | p99 ms | non-2xx |")
    print("|---|---:|---:|---:|---:|")
    for name, r in results.items():
        print(f"| {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} | {r['non2xx']:.0f} |")
    names = list(results)
    ratio = results[names[1]]["rps"] / results[names[0]]["rps"]
    print(f"\nratio gateway / bare: {ratio:.2f}x")
    print(f"engine steps per second (one core): {engine_steps_per_second():,.0f}")


if __name__ == "__main__":
    main()
