"""USSD benchmark: the gateway's full hop against fair baselines, on a realistic mix.

    python bench/ussd_throughput.py [--seconds 15] [--connections 64] [--rounds 5]

Three servers run side by side, each started once:

- **ceiling**: a bare aiohttp handler that parses AT's form and answers, no Redis;
- **bare + Redis**: the same, plus one Redis round trip per request with the
  gateway's own client, auto-pipelining and event loop (bench/bare_handler.py);
- **gateway**: ``gateway serve`` as shipped (callback secret, AT form, sessions in
  Redis, engine, canonical JSON log line, metrics, console mounted), its log going
  to a real file in the default format (JSON, level info).

wrk loads them in alternating rounds (the order turns each round), so a neighbour's
burst on a shared machine falls on all three; the figures are medians over the
rounds, and the ratio the target is about (gateway / bare + Redis) is also given per
round. Every connection replays its own script of the realistic mix
(bench/ussd_mix.py: four languages, many paths, new and returning callers, one input
in ten invalid, resumes). Each row gives the server's own CPU time per request and
Redis's (from /proc), figures less shaken by the machine's load than req/s.

Redis is emptied before each round, so each round's new callers are new. A run fails
(exit 1) if any request got a non-2xx answer or the gateway served a "Service busy"
screen. Needs wrk and redis-server (tests/install.sh installs both).
"""

from __future__ import annotations

import argparse
import itertools
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import describe, write_scripts  # noqa: E402
from tests.servers import RedisServer, free_port, wait_for_port  # noqa: E402

SECRET = "bench-callback-secret-0123456789"
SCRIPTS = 16
CEILING, BARE, GATEWAY = "ceiling: aiohttp, form, no Redis", "bare: + 1 Redis trip", "gateway"
TARGET_RATIO, TARGET_P99_MS = 0.7, 15.0
RUNS = itertools.count()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(port: int, seconds: int, connections: int, mix: Path) -> dict[str, float]:
    """One wrk run of the realistic mix; req/s, p50/p99 in ms, non-2xx answers."""
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
        env=dict(
            os.environ,
            BENCH_SECRET=SECRET,
            BENCH_RUN=str(next(RUNS)),
            BENCH_MIX=str(mix),
            BENCH_SCRIPTS=str(SCRIPTS),
        ),
        timeout=seconds + 60,
        check=True,
    ).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]

    def percentile(name: str) -> float:
        match = re.search(rf"^\s+{name}%\s+([\d.]+)(us|ms|s)", out, re.M)
        assert match, out
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(r"Socket errors: (.*)", out)
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    return {
        "requests": float(requests),
        "rps": rps,
        "p50": percentile("50"),
        "p99": percentile("99"),
        "non2xx": float(errors.group(1)) if errors else 0.0,
        "socket_errors": 1.0 if socket_errors else 0.0,
    }


def start(
    cmd: list[str], env: dict[str, str], port: int, log: IO[bytes] | None = None
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        cmd, env=env, stdout=subprocess.DEVNULL, stderr=log or subprocess.DEVNULL
    )
    try:
        wait_for_port(port, 180)  # the gateway validates its whole tree first
    except BaseException:
        process.terminate()  # never leave a server behind
        process.wait()
        raise
    return process


def stop_servers(servers: Iterable[subprocess.Popen[bytes]]) -> None:
    for server in servers:
        server.terminate()
        server.wait()


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
    server: subprocess.Popen[bytes],
    redis_pid: int,
    port: int,
    seconds: int,
    connections: int,
    mix: Path,
) -> dict[str, float]:
    before, redis_before = cpu_seconds(server.pid), cpu_seconds(redis_pid)
    result = wrk(port, seconds, connections, mix)
    result["cpu_us"] = (cpu_seconds(server.pid) - before) / result["requests"] * 1e6
    result["redis_us"] = (cpu_seconds(redis_pid) - redis_before) / result["requests"] * 1e6
    return result


def alternating_rounds(
    servers: dict[str, subprocess.Popen[bytes]],
    ports: dict[str, int],
    redis_server: RedisServer,
    mix_dir: Path,
    args: argparse.Namespace,
) -> list[dict[str, dict[str, float]]]:
    """A warm-up of each server, then ``args.rounds`` rounds measuring each in turn, the
    order turning a place each round (Redis emptied first), so a neighbour's burst on a
    shared machine falls on all of them: per round, each server's figures by name."""
    assert redis_server.process is not None
    names = tuple(servers)
    for name in names:
        wrk(ports[name], 3, args.connections, mix_dir)  # warm-up
    rounds: list[dict[str, dict[str, float]]] = []
    for number in range(args.rounds):
        flush(redis_server.url)
        turn = number % len(names)
        order = names[turn:] + names[:turn]
        rounds.append(
            {
                name: measure(
                    servers[name],
                    redis_server.process.pid,
                    ports[name],
                    args.seconds,
                    args.connections,
                    mix_dir,
                )
                for name in order
            }
        )
    return rounds


def gateway_env(tmp: str, redis_url: str) -> dict[str, str]:
    """``gateway serve`` as shipped: the default log format (JSON off a terminal)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GATEWAY_")}
    return dict(
        env,
        PYTHONPATH=str(ROOT),
        GATEWAY_DATA_DIR=tmp,
        GATEWAY_REDIS_URL=redis_url,
        GATEWAY_CALLBACK_SECRET=SECRET,
    )


def flush(redis_url: str) -> None:
    import redis

    redis.Redis.from_url(redis_url).flushall()


def log_problems(log_file: Path) -> dict[str, int]:
    """What the gateway's log says went wrong: busy screens, errors, bad forms."""
    text = log_file.read_text(errors="replace")
    return {
        "request lines": text.count('"event":"ussd.request"'),
        "busy screens": text.count("__unavailable__"),
        "errors": text.count('"level":"error"'),
        "bad forms": text.count("ussd.bad_form"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    names = (CEILING, BARE, GATEWAY)
    rounds: list[dict[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory() as tmp:
        mix_dir = Path(tmp) / "mix"
        # Enough requests that a connection seldom laps its script within a run.
        mix = write_scripts(mix_dir, SCRIPTS, max(6000, args.seconds * 400))
        redis_server = RedisServer(Path(tmp))
        redis_server.start()
        env = gateway_env(tmp, redis_server.url)
        log_file = Path(tmp) / "gateway.log"
        ports = {name: free_port() for name in names}
        bare = [sys.executable, str(ROOT / "bench" / "bare_handler.py"), "--port"]
        commands = {
            CEILING: [*bare, str(ports[CEILING])],
            BARE: [*bare, str(ports[BARE]), "--redis", redis_server.url],
            GATEWAY: [sys.executable, "-m", "gateway", "serve", "--port", str(ports[GATEWAY])],
        }
        servers: dict[str, subprocess.Popen[bytes]] = {}
        problems: dict[str, int] = {}
        try:
            with log_file.open("wb") as log:
                for name in names:
                    servers[name] = start(
                        commands[name], env, ports[name], log if name == GATEWAY else None
                    )
                rounds = alternating_rounds(servers, ports, redis_server, mix_dir, args)
        finally:
            stop_servers(servers.values())
            redis_server.stop()
        problems = log_problems(log_file)
    report(args, names, rounds, describe(mix), problems)


def report(
    args: argparse.Namespace,
    names: tuple[str, ...],
    rounds: list[dict[str, dict[str, float]]],
    mix: str,
    problems: dict[str, int],
) -> None:
    print(
        f"\nUSSD, realistic mix, {args.connections} connections, {args.rounds} alternating "
        f"rounds of {args.seconds}s, {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.1f} at the end\n{mix}\n"
    )
    print("| round | server | req/s | p50 ms | p99 ms | server CPU us/req | Redis CPU us/req |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for number, results in enumerate(rounds, 1):
        for name in names:
            r = results[name]
            print(
                f"| {number} | {name} | {r['rps']:.0f} | {r['p50']:.2f} | {r['p99']:.2f} "
                f"| {r['cpu_us']:.0f} | {r['redis_us']:.0f} |"
            )
    medians = {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in names
    }
    print("\nMedians:\n")
    print("| server | req/s | p50 ms | p99 ms | server CPU us/req | Redis CPU us/req |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in names:
        m = medians[name]
        print(
            f"| {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} "
            f"| {m['cpu_us']:.0f} | {m['redis_us']:.0f} |"
        )
    per_round = [r[GATEWAY]["rps"] / r[BARE]["rps"] for r in rounds]
    ratio = statistics.median(per_round)
    cpu_ratio = medians[BARE]["cpu_us"] / medians[GATEWAY]["cpu_us"]
    p99 = medians[GATEWAY]["p99"]
    print(
        f"\ngateway / bare + Redis: {ratio:.2f}x req/s (median of per-round ratios "
        f"{', '.join(f'{x:.2f}' for x in per_round)}), {cpu_ratio:.2f}x by server CPU per "
        f"request; target {TARGET_RATIO}x: {'met' if ratio >= TARGET_RATIO else 'MISSED'}"
    )
    print(
        f"gateway p99 {p99:.2f} ms (median; worst round "
        f"{max(r[GATEWAY]['p99'] for r in rounds):.2f} ms); target {TARGET_P99_MS:.0f} ms: "
        f"{'met' if p99 <= TARGET_P99_MS else 'MISSED'}"
    )
    print(
        f"bare + Redis / ceiling: "
        f"{medians[BARE]['rps'] / medians[CEILING]['rps']:.2f}x; gateway / ceiling: "
        f"{medians[GATEWAY]['rps'] / medians[CEILING]['rps']:.2f}x"
    )
    print(f"gateway log: {problems}")
    print(f"engine steps per second (one core): {engine_steps_per_second():,.0f}")
    failures = sum(r[name]["non2xx"] for r in rounds for name in names)
    if failures or problems["busy screens"] or problems["errors"] or problems["bad forms"]:
        print("FAILED: non-2xx answers, busy screens or errors (see above)")
        sys.exit(1)


if __name__ == "__main__":
    main()
