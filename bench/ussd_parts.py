"""Three small parts of the USSD hop timed in a loop, for comparing two trees.

    PYTHONPATH=DIR python bench/ussd_parts.py NAME   # alternate with another tree's DIR

Prints, each the best of 7 repeats: building one request's values (a request, two
replies, two session records), one call of the metrics observer, and reading a new
caller's number (``to_e164`` of a fresh number, then ``country_of``).
"""

from __future__ import annotations

import itertools
import sys
import timeit
from collections.abc import Callable

from gateway.menu.engine import SessionState
from gateway.observability.metrics import Metrics
from gateway.privacy.phone_numbers import country_of, to_e164
from gateway.server.runtime import ussd_observer
from gateway.ussd.sessions import SessionRecord
from gateway.ussd.types import USSDReply, USSDRequest


def best(part: Callable[[], object], number: int) -> float:
    """Microseconds per call, the best of 7 repeats."""
    return min(timeit.repeat(part, number=number, repeat=7)) / number * 1e6


def main() -> None:
    state = SessionState(screen="main", language="en")

    def values() -> None:
        USSDRequest(
            channel="africastalking",
            session_id="s",
            msisdn="+254700000001",
            service_code="*384#",
            network_code="63902",
            user_input="1",
            replay_key="1",
            cumulative=True,
        )
        for hops in (2, 3):
            SessionRecord(state, "1", USSDReply("t", False, "main"), hops)

    observe = ussd_observer(Metrics())
    request = USSDRequest("africastalking", "s", "+254700000001", "*384#", "63902", "1", "1", True)
    reply = USSDReply("t", False, "main")
    numbers = (f"+2547{n:08d}" for n in itertools.count(10_000_000))

    def new_caller() -> None:
        e164 = to_e164(next(numbers), "KE")
        assert e164 is not None
        country_of(e164)

    name = sys.argv[1] if len(sys.argv) > 1 else "this tree"
    print(
        f"{name}: values of one request {best(values, 20000):.2f} us; metrics observer "
        f"{best(lambda: observe(request, reply, 0.004, 'safe-journey'), 50000):.2f} us; "
        f"new caller's number {best(new_caller, 2000):.2f} us"
    )


if __name__ == "__main__":
    main()
