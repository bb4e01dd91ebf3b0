"""The gateway's own work on the USSD hop, one request at a time, in one process.

    python bench/ussd_hop_loop.py MIX_DIR [--warm-up 3000] [--requests 3000] [--callgrind]

Opens the runtime as ``gateway serve`` does (settings from the environment: Redis,
the JSON log on stderr at level info) and sends the realistic mix's requests
(bench/ussd_mix.py, the numbers and session ids bench/ussd.lua would make) through
what the AT route does after aiohttp has read the form: ``parse_ussd_form``, the USSD
service (keys, session load/commit in Redis, engine, the log line, the metrics
observer) and ``render``. No HTTP and no concurrency, so the count is repeatable.
With ``--callgrind`` (run under ``valgrind --tool=callgrind --instr-atstart=no``;
bench/ussd_instructions.py --hop does) instructions are counted from the end of the
warm-up to the end of the requests only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qsl

ROOT = Path(__file__).resolve().parent.parent
if not os.environ.get("PYTHONPATH"):  # else the tree PYTHONPATH names is the one run
    sys.path.insert(0, str(ROOT))

from gateway.africastalking.ussd_dialect import parse_ussd_form, render  # noqa: E402
from gateway.observability.logs import configure  # noqa: E402
from gateway.server.runtime import open_runtime  # noqa: E402
from gateway.settings import Settings  # noqa: E402


def bodies(mix: Path, count: int) -> list[str]:
    """``count`` request bodies as bench/ussd.lua makes them (run 0, connection 1)."""
    lines = (mix / "mix-1.txt").read_text().splitlines()
    callers, script = int(lines[0]), [line.split(" ", 2) for line in lines[1:] if line]
    found = []
    for counter in range(count):
        session, caller, tail = script[counter % len(script)]
        lap = counter // len(script)
        number = f"0{1:02d}{(lap * callers + int(caller)) % 10000:04d}"
        found.append(f"sessionId=b0-1-{lap}-{session}&phoneNumber=%2B25470{number}{tail}")
    return found


def callgrind(*arguments: str) -> None:
    subprocess.run(["callgrind_control", *arguments, str(os.getpid())], check=True)


async def run(args: argparse.Namespace) -> None:
    settings = Settings.from_env()
    configure(settings.log_format, settings.log_level, cache=True)
    requests = bodies(args.mix, args.warm_up + args.requests)
    async with open_runtime(settings, broadcast_worker=False) as runtime:
        service = runtime.ussd
        for number, body in enumerate(requests):
            if number == args.warm_up and args.callgrind:
                callgrind("--instr=on")
                callgrind("--zero")
            form = dict(parse_qsl(body, keep_blank_values=True))
            render(await service.handle(parse_ussd_form(form)))
        if args.callgrind:
            callgrind("--dump=loop")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("mix", type=Path)
    parser.add_argument("--warm-up", type=int, default=3000)
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--callgrind", action="store_true")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
