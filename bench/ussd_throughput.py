"""USSD benchmark: the full hop (AT form POST, engine, Redis session) against a bare
aiohttp handler doing one Redis round trip, side by side in one run; and engine steps
per second on one core.

    python bench/ussd_throughput.py [--seconds 15] [--connections 64] [--rounds 3]

Both servers run side by side on one Redis; wrk loads them in turn (bare, gateway,
bare, gateway, ...), so a neighbour's burst on a shared machine falls on both. The
ratio is taken of the medians. Each row also gives the server's own CPU time per
request (from /proc), a figure less shaken by the machine's load than req/s.

Needs wrk and redis-server (tests/install.sh installs both). Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.servers import RedisServer, free_port, wait_for_port  # noqa: E402

SECRET = "bench-callback-secret-0123456789"


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


RUNS = iter(range(100))


def wrk(port: int, seconds: int, connections: int, callers: str = "new") -> dict[str, float]:
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
        env=dict(os.environ, BENCH_SECRET=SECRET, BENCH_RUN=str(next(RUNS)), BENCH_CALLERS=callers),
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
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "requests": float(requests),
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
    from gateway.content.catalog import load_catalogs
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


def measure(
    process: subprocess.Popen[bytes], port: int, seconds: int, connections: int, callers: str
) -> dict[str, float]:
    before = cpu_seconds(process.pid)
    result = wrk(port, seconds, connections, callers)
    result["cpu_us"] = (cpu_seconds(process.pid) - before) / result["requests"] * 1e6
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = (
        "bare aiohttp + 1 Redis GET",
        "gateway full hop, new callers",
        "gateway full hop, returning callers",
    )
    rounds: list[dict[str, dict[str, float]]] = []
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
        bare_port, gateway_port = free_port(), free_port()
        bare_command = [
            sys.executable,
            str(ROOT / "bench" / "bare_handler.py"),
            "--port",
            str(bare_port),
            "--redis",
            redis_server.url,
        ]
        gateway_command = [sys.executable, "-m", "gateway", "serve", "--port", str(gateway_port)]
        servers: list[subprocess.Popen[bytes]] = []
        try:
            servers.append(start(bare_command, env, bare_port))
            servers.append(start(gateway_command, env, gateway_port))
            for port in (bare_port, gateway_port):
                wrk(port, 3, args.connections)  # warm-up
            for _ in range(args.rounds):
                rounds.append(
                    {
                        name: measure(server, port, args.seconds, args.connections, callers)
                        for name, server, port, callers in zip(
                            names,
                            (servers[0], servers[1], servers[1]),
                            (bare_port, gateway_port, gateway_port),
                            ("new", "new", "returning"),
                            strict=True,
                        )
                    }
                )
        finally:
            for server in servers:
                server.terminate()
                server.wait()
            redis_server.stop()
    print(
        f"\nUSSD at {args.connections} connections, {args.rounds} rounds of {args.seconds}s "
        f"each, {os.cpu_count()} cores\n"
    )
    print("| round | server | req/s | p50 ms | p99 ms | server CPU us/req | non-2xx |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for number, results in enumerate(rounds, 1):
        for name, r in results.items():
            print(
                f"| {number} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                f"| {r['cpu_us']:.0f} | {r['non2xx']:.0f} |"
            )
    medians = {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in names
    }
    for name in names:
        m = medians[name]
        print(
            f"| median | {name} | {m['rps']:.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
            f"| {m['cpu_us']:.0f} | {m['non2xx']:.0f} |"
        )
    print()
    for name in names[1:]:
        per_round = ", ".join(f"{r[name]['rps'] / r[names[0]]['rps']:.2f}" for r in rounds)
        ratio = medians[name]["rps"] / medians[names[0]]["rps"]
        worst = max(r[name]["p99"] for r in rounds)
        print(
            f"{name} / bare (medians): {ratio:.2f}x; per round: {per_round}; "
            f"worst p99 {worst:.2f} ms"
        )
    print(f"engine steps per second (one core): {engine_steps_per_second():,.0f}")


if __name__ == "__main__":
    main()
