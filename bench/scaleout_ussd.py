"""USSD scale-out: one and two ``gateway serve`` workers behind nginx, sharing Redis.

    python bench/scaleout_ussd.py [--seconds 10] [--connections 32] [--rounds 3]

Three set-ups, each behind nginx with the shipped upstream settings
(deploy/nginx/gateway.conf: HTTP/1.1 keep-alive to the workers, ``keepalive 32``), TLS
left out:

- **1 worker**;
- **2 workers, round-robin**: nginx's default, as shipped. Consecutive requests of one
  USSD session land on different workers, so a worker often holds a stale copy of the
  session (or none) and its commit is refused once and redone;
- **2 workers, sticky**: ``hash $remote_addr$remote_port``, so each client connection
  (each wrk connection walks its sessions in order) stays on one worker.

wrk replays the realistic mix (bench/ussd_mix.py) and the set-ups are loaded in
alternating rounds; medians are printed, with the workers' CPU per request (summed
over workers, from /proc) and Redis's. Everything runs on this machine, so wrk, nginx,
Redis and the workers share its cores: with two cores, a second worker can only add
what the first left idle. A run fails (exit 1) on any non-2xx answer. Needs wrk, nginx
and redis-server (tests/install.sh installs them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.ussd_mix import describe, write_scripts  # noqa: E402
from bench.ussd_throughput import (  # noqa: E402
    SCRIPTS,
    cpu_seconds,
    flush,
    gateway_env,
    start,
    wrk,
)
from tests.servers import RedisServer, free_port, wait_for_port  # noqa: E402

SETUPS = {
    "1 worker": (1, ""),
    "2 workers, round-robin (as shipped)": (2, ""),
    "2 workers, sticky per connection": (2, "hash $remote_addr$remote_port;"),
}


def nginx_conf(folder: Path, port: int, workers: list[int], balancing: str) -> Path:
    servers = "\n".join(
        f"        server 127.0.0.1:{worker} max_fails=2 fail_timeout=5s;" for worker in workers
    )
    conf = folder / f"nginx-{port}.conf"
    conf.write_text(f"""
worker_processes 1;
pid {folder}/nginx-{port}.pid;
error_log {folder}/nginx-{port}.error.log crit;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body-{port};
    proxy_temp_path {folder}/proxy-{port};
    fastcgi_temp_path {folder}/fastcgi-{port};
    uwsgi_temp_path {folder}/uwsgi-{port};
    scgi_temp_path {folder}/scgi-{port};
    upstream gateway_workers {{
        {balancing}
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 64k;
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_set_header Host $host;
        proxy_connect_timeout 2s;
        proxy_read_timeout 10s;
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 2;
        location /africastalking/ {{ proxy_pass http://gateway_workers; }}
    }}
}}
""")
    return conf


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    rounds: list[dict[str, dict[str, float]]] = []
    processes: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        mix_dir = folder / "mix"
        mix = write_scripts(mix_dir, SCRIPTS, max(6000, args.seconds * 400))
        redis_server = RedisServer(folder)
        redis_server.start()
        assert redis_server.process is not None
        env = gateway_env(tmp, redis_server.url)
        env["GATEWAY_LOG_LEVEL"] = "info"
        worker_ports = [free_port(), free_port()]
        try:
            with (folder / "gateway.log").open("wb") as log:
                workers = [
                    start(
                        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
                        env,
                        port,
                        log,
                    )
                    for port in worker_ports
                ]
                processes += workers
                front: dict[str, int] = {}
                for name, (count, balancing) in SETUPS.items():
                    port = front[name] = free_port()
                    conf = nginx_conf(folder, port, worker_ports[:count], balancing)
                    processes.append(
                        subprocess.Popen(
                            [nginx, "-c", str(conf), "-p", tmp, "-g", "daemon off;"],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL,
                        )
                    )
                    wait_for_port(port, 10)
                for port in front.values():
                    wrk(port, 3, args.connections, mix_dir)  # warm-up
                names = list(SETUPS)
                for number in range(args.rounds):
                    flush(redis_server.url)
                    results: dict[str, dict[str, float]] = {}
                    for name in names[number % 3 :] + names[: number % 3]:
                        count = SETUPS[name][0]
                        before = sum(cpu_seconds(w.pid) for w in workers[:count])
                        redis_before = cpu_seconds(redis_server.process.pid)
                        result = wrk(front[name], args.seconds, args.connections, mix_dir)
                        spent = sum(cpu_seconds(w.pid) for w in workers[:count]) - before
                        result["cpu_us"] = spent / result["requests"] * 1e6
                        redis_spent = cpu_seconds(redis_server.process.pid) - redis_before
                        result["redis_us"] = redis_spent / result["requests"] * 1e6
                        results[name] = result
                    rounds.append(results)
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in processes:
                process.wait(timeout=30)
            redis_server.stop()
    print(
        f"\nUSSD scale-out behind nginx, realistic mix, {args.connections} connections, "
        f"{args.rounds} alternating rounds of {args.seconds}s, {os.cpu_count()} cores shared "
        f"by wrk, nginx, Redis and the workers, load average {os.getloadavg()[0]:.1f} at the "
        f"end\n{describe(mix)}\n"
    )
    print("| set-up | req/s | p50 ms | p99 ms | workers' CPU us/req | Redis CPU us/req |")
    print("|---|---:|---:|---:|---:|---:|")
    medians = {
        name: {key: statistics.median(r[name][key] for r in rounds) for key in rounds[0][name]}
        for name in SETUPS
    }
    for name, m in medians.items():
        print(
            f"| {name} | {m['rps']:,.0f} | {m['p50']:.2f} | {m['p99']:.2f} | {m['cpu_us']:.0f} "
            f"| {m['redis_us']:.0f} |"
        )
    one, rr, sticky = (medians[name]["rps"] for name in SETUPS)
    print(
        f"\nscaling 2 workers / 1: round-robin {rr / one:.2f}x, sticky {sticky / one:.2f}x; "
        f"round-robin / sticky {rr / sticky:.2f}x"
    )
    if any(r[name]["non2xx"] for r in rounds for name in SETUPS):
        print("FAILED: non-2xx answers")
        sys.exit(1)


if __name__ == "__main__":
    main()
