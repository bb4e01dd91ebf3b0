"""Run every benchmark with modest sizes and print each one's table (``make bench``).

    python bench/run_all.py            # all, a few minutes on the 2-core machine
    python bench/run_all.py smpp ussd  # only those whose name contains a word given

Each benchmark is a script of its own (run it directly for the README's full sizes);
this runner only calls them one after another with smaller arguments, streams their
output, and ends with a summary of which passed. ``bench/ussd_mix.py`` (the request
mix) and ``bench/bare_handler.py`` (the baseline server) are helpers the USSD scripts
start themselves; ``bench/ussd_profile.py`` is a profiler (it needs py-spy and ptrace),
``bench/ussd_syscalls.py`` counts system calls per request (it needs perf, as root),
and ``bench/ussd_ab.py`` (CPU per request, alternating rounds) and
``bench/ussd_instructions.py`` (instructions per request, callgrind) compare this tree
with another copy of the project: all four are run by hand.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

# (name, script, arguments): sizes chosen so the whole run takes a few minutes.
BENCHMARKS: list[tuple[str, str, list[str]]] = [
    ("ussd", "ussd_throughput.py", ["--seconds", "5", "--rounds", "1", "--connections", "32"]),
    ("smpp", "smpp_throughput.py", ["--quick"]),
    ("broadcast", "broadcast_throughput.py", ["--quick"]),
    ("scaleout-ussd", "scaleout_ussd.py", ["--seconds", "5", "--rounds", "1"]),
    ("scaleout-outbox", "scaleout_outbox.py", ["--rows", "5000"]),
    ("store-outbox", "store_outbox.py", ["--rows", "2000", "--rounds", "1"]),
    ("reply-priority", "reply_priority.py", ["--recipients", "2000", "--interval", "2"]),
    ("kannel", "kannel_side_by_side.py", ["--recipients", "1000", "--grant", "200"]),
    ("signin-load", "signin_load.py", ["--seconds", "5", "--rounds", "1", "--signins", "20"]),
]


def main(words: list[str]) -> int:
    chosen = [b for b in BENCHMARKS if not words or any(w in b[0] for w in words)]
    results: list[tuple[str, int, float]] = []
    for name, script, arguments in chosen:
        command = [sys.executable, str(HERE / script), *arguments]
        print(f"\n=== {name}: {' '.join(command[1:])}", flush=True)
        started = time.monotonic()
        code = subprocess.run(command, cwd=HERE.parent, check=False).returncode
        results.append((name, code, time.monotonic() - started))
    print("\n=== summary")
    for name, code, seconds in results:
        print(f"{name:<16} {'ok' if code == 0 else f'FAILED ({code})':<12} {seconds:6.1f} s")
    return 0 if all(code == 0 for _, code, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
