"""The routing table and the failover decisions. Pure (no I/O, no clock)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.settings import Settings, SettingsError
from gateway.smpp.pool import build_routes, region_of
from gateway.smpp.routes import (
    DEFAULT_FAILOVER_ON,
    Answer,
    Attempt,
    Route,
    RoutePacing,
    Step,
    after,
    choose,
    route_for,
    routing_table,
)

TARGETS = ("op1", "op2", "op3", "africastalking")


def test_legacy_per_smsc_prefixes_longest_wins_order_is_failover_order() -> None:
    table = routing_table(
        [("op1", ["+254"]), ("op2", ["254", "+2547"]), ("any", []), ("op3", ["+254"])]
    )
    assert route_for(table, "+254712345678") == Route("2547", ("op2",))
    assert route_for(table, "254112345678") == Route("254", ("op1", "op2", "op3"))
    assert route_for(table, "+33612345678") == Route("", ("any",), balance=True)
    assert route_for(routing_table([("op1", ["+254"])]), "+33612345678") is None
    assert Route("254", ()).name == "+254" and Route("", ()).name == "default"


def test_the_first_target_that_is_up_takes_it() -> None:
    route = Route("254", ("op1", "op2", "op3"))
    assert choose(route, lambda target: True) == ("op1", False)
    assert choose(route, lambda target: target == "op3") == ("op3", True)
    assert choose(route, lambda target: False) == ("op1", False)  # all down: wait on the first
    assert choose(route, lambda target: True, tried=("op1",)) == ("op2", True)
    assert choose(route, lambda target: True, tried=route.smscs) is None


def kenya_table() -> tuple[Route, ...]:
    # Kenya's calling code is 254 (ITU-T E.164 list); Canada and the US share 1.
    return (
        Route("", ("op2",), label="world"),
        Route("", ("op1", "africastalking"), label="kenya", countries=(("KE", "254"),)),
        Route("2547", ("op3",), label="safaricom-range"),
        Route("1", ("op2",), label="nanp"),
        Route("", ("op3",), label="canada", countries=(("CA", "1"),)),
    )


def test_prefix_or_country_the_most_specific_wins() -> None:
    table = kenya_table()
    assert route_for(table, "+254712345678", "KE").name == "safaricom-range"  # type: ignore[union-attr]
    assert route_for(table, "+254112345678", "KE").name == "kenya"  # type: ignore[union-attr]
    assert route_for(table, "+16135550100", "CA").name == "canada"  # type: ignore[union-attr]
    assert route_for(table, "+12025550100", "US").name == "nanp"  # type: ignore[union-attr]
    assert route_for(table, "+33612345678", "FR").name == "world"  # type: ignore[union-attr]
    assert route_for(table[1:], "+33612345678", "FR") is None


def test_countries_are_read_from_the_number() -> None:
    # Numbers from the ITU-T ranges of the national plans, not real subscribers: the
    # first is Safaricom's 07xx range, the second Canada's 613 area code.
    assert region_of("+254712345678") == "KE"
    assert region_of("16135550100") == "CA"
    assert region_of("+999") is None


@st.composite
def tables(draw: st.DrawFn) -> tuple[Route, ...]:
    count = draw(st.integers(1, 6))
    routes = []
    for index in range(count):
        prefixes = tuple(draw(st.lists(st.text("0123456789", min_size=1, max_size=4), max_size=2)))
        countries = tuple(
            draw(st.lists(st.sampled_from([("KE", "254"), ("UG", "256")]), max_size=1))
        )
        targets = tuple(
            draw(st.lists(st.sampled_from(TARGETS), min_size=1, max_size=4, unique=True))
        )
        routes.append(
            Route(prefixes[0] if prefixes else "", targets, f"r{index}", prefixes, countries)
        )
    return tuple(routes)


@given(
    tables(), st.text("0123456789", min_size=3, max_size=12), st.sampled_from([None, "KE", "UG"])
)
def test_the_chosen_route_matches_and_none_matches_better(
    table: tuple[Route, ...], digits: str, region: str | None
) -> None:
    chosen = route_for(table, digits, region)
    scores = [route.specificity(digits, region) for route in table]
    matching = [score for score in scores if score is not None]
    if chosen is None:
        assert not matching
        return
    best = chosen.specificity(digits, region)
    assert best is not None and best == max(matching)
    assert table.index(chosen) == scores.index(best)  # on a tie, the one written first


@given(
    st.lists(st.sampled_from(TARGETS), min_size=1, max_size=4, unique=True),
    st.lists(
        st.tuples(
            st.sets(st.sampled_from(TARGETS)),  # which targets are up at this step
            st.sampled_from(list(Answer)),
            st.sampled_from(["ESME_RINVDSTADR", "ESME_RTHROTTLED", "CouldNotRoute", "x"]),
        ),
        max_size=8,
    ),
)
def test_one_message_is_taken_by_at_most_one_target(
    targets: list[str], answers: list[tuple[set[str], Answer, str]]
) -> None:
    """Whatever the targets answer and whichever are up: a message is never handed to a
    target twice, never handed on after an acceptance or an answer we did not get, and
    only handed on after a refusal whose class the route lists, or before any sending."""
    route = Route("", tuple(targets))
    attempt = Attempt(route)
    handed: list[str] = []
    for up, answer, error_class in answers:
        chosen = attempt.next_target(up.__contains__)
        if chosen is None:
            assert attempt.final is not None or len(handed) == len(targets)
            break
        target, failover = chosen
        assert target not in handed
        assert failover == (target != targets[0])
        untried_up = [t for t in targets if t in up and t not in handed]
        if untried_up:
            assert target == untried_up[0]
        handed.append(target)
        step = attempt.answered(target, answer, error_class)
        if answer in (Answer.ACCEPTED, Answer.UNKNOWN, Answer.RETRY, Answer.OPTED_OUT):
            assert step is Step.DONE
        if answer is Answer.REFUSED:
            assert (step is Step.NEXT) == (error_class in DEFAULT_FAILOVER_ON)
        if answer is Answer.NOT_SENT:
            assert step is Step.NEXT
        if step is Step.DONE:
            assert attempt.next_target(lambda t: True) is None
            break


def test_throttling_is_never_a_failover_and_the_list_is_per_route() -> None:
    route = Route("", ("op1", "op2"), failover_on=frozenset({"0x00000400"}))
    assert after(route, Answer.REFUSED, "0x00000400") is Step.NEXT
    assert after(route, Answer.REFUSED, "ESME_RINVDSTADR") is Step.DONE
    assert after(Route("", ("op1",)), Answer.REFUSED, "ESME_RINVDSTADR") is Step.NEXT
    assert after(Route("", ("op1",)), Answer.RETRY, "ESME_RTHROTTLED") is Step.DONE


@given(st.floats(0.5, 200), st.lists(st.floats(0, 0.5), min_size=1, max_size=300))
def test_a_route_never_goes_faster_than_its_tps(tps: float, gaps: list[float]) -> None:
    """Messages arrive at any times; each leaves at its slot. In every window the
    slots used stay within the rate plus the bucket (a tenth of a second's worth)."""
    route = Route("", ("op1",), tps=tps)
    pacing = RoutePacing((route,), 0.0)
    now, leaves = 0.0, []
    for gap in gaps:
        now += gap
        leaves.append(now + pacing.reserve(route, now))
    assert leaves == sorted(leaves)
    burst = max(1.0, tps / 10)
    for first in range(len(leaves)):
        for last in range(first, len(leaves)):
            span = leaves[last] - leaves[first]
            assert last - first + 1 <= burst + span * tps + 1e-6


def test_a_route_without_tps_never_waits() -> None:
    route = Route("", ("op1",))
    pacing = RoutePacing((route,), 0.0)
    assert all(pacing.reserve(route, 0.0) == 0.0 for _ in range(1000))


SMSC = [
    {"name": "op1", "host": "127.0.0.1", "port": 2775, "system_id": "gw", "password": "p"},
    {"name": "op2", "host": "127.0.0.1", "port": 2776, "system_id": "gw", "password": "p"},
]


def settings(tmp_path: Path, routes: object, **more: str) -> Settings:
    env = {
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_SMSC": json.dumps(SMSC),
        "GATEWAY_ROUTES": json.dumps(routes),
        **more,
    }
    return Settings.from_env(env)


def test_gateway_routes_setting(tmp_path: Path) -> None:
    made = settings(
        tmp_path,
        [
            {"name": "kenya", "countries": ["ke"], "targets": ["op1", "op2"], "tps": 20},
            {"name": "rest", "targets": ["op2"], "failover_on": ["ESME_RSYSERR"]},
        ],
        GATEWAY_ROUTE_FAILOVER_ON="ESME_RINVDSTADR, CouldNotRoute",
    )
    table = build_routes(made.smsc, made.routes, made.route_failover_on)
    kenya, rest = table
    assert kenya.name == "kenya" and kenya.countries == (("KE", "254"),) and kenya.tps == 20
    assert kenya.failover_on == {"ESME_RINVDSTADR", "CouldNotRoute"}
    assert rest.failover_on == {"ESME_RSYSERR"}
    assert route_for(table, "+254712345678", "KE") is kenya
    assert route_for(table, "+33612345678", "FR") is rest


@pytest.mark.parametrize(
    ("routes", "more", "says"),
    [
        ([{"name": "x", "targets": ["nobody"]}], {}, "neither a transmitting SMSC"),
        ([{"name": "x", "targets": []}], {}, "at least one"),
        ([{"name": "x", "targets": ["op1", "op1"]}], {}, "listed twice"),
        ([{"name": "x", "countries": ["XX"], "targets": ["op1"]}], {}, "alpha-2"),
        ([{"name": "x", "prefixes": ["+25a"], "targets": ["op1"]}], {}, "number prefix"),
        ([{"name": "x", "targets": ["africastalking"]}], {}, "GATEWAY_AT_API_KEY"),
        ([{"name": "x", "targets": ["op1"], "speed": 1}], {}, "speed"),
        ({"name": "x"}, {}, "JSON list"),
        (
            [{"name": "x", "targets": ["op1"]}, {"name": "x", "targets": ["op2"]}],
            {},
            "used twice",
        ),
    ],
)
def test_bad_routes_stop_the_boot_with_a_sentence(
    tmp_path: Path, routes: object, more: dict[str, str], says: str
) -> None:
    with pytest.raises(SettingsError, match=says):
        settings(tmp_path, routes, **more)


def test_routes_in_two_places_are_refused(tmp_path: Path) -> None:
    smscs = [{**SMSC[0], "routes": ["+254"]}, SMSC[1]]
    env = {
        "GATEWAY_DATA_DIR": str(tmp_path),
        "GATEWAY_SMSC": json.dumps(smscs),
        "GATEWAY_ROUTES": json.dumps([{"name": "x", "targets": ["op2"]}]),
    }
    with pytest.raises(SettingsError, match="one place"):
        Settings.from_env(env)
    del env["GATEWAY_ROUTES"]
    legacy = Settings.from_env(env)
    assert [r.name for r in build_routes(legacy.smsc)] == ["+254", "default"]


def test_a_route_through_africas_talking_shows_as_a_channel_and_keeps_receipts(
    tmp_path: Path,
) -> None:
    from gateway.server.sms_channel import (
        DEFAULT_RECEIPT_TIMEOUT,
        channel_statuses,
        receipt_timeouts_for,
    )

    made = settings(
        tmp_path,
        [{"name": "kenya", "countries": ["KE"], "targets": ["op1", "africastalking"]}],
        GATEWAY_AT_API_KEY="at-key-for-the-test",
    )
    binds = [{"smsc": "op1", "mode": "transceiver", "bound": False, "last_error": "refused"}]
    statuses = channel_statuses(made, "smpp", binds)
    assert [(s.name, s.working) for s in statuses] == [
        ("smpp:op1", False),
        ("africastalking", True),
    ]
    # AT's ids carry no SMSC scope: the catch-all timeout closes AT's rows unknown.
    assert receipt_timeouts_for(made, "smpp")[-1] == ("", DEFAULT_RECEIPT_TIMEOUT)
    legacy = Settings.from_env(
        {"GATEWAY_DATA_DIR": str(tmp_path), "GATEWAY_SMSC": json.dumps(SMSC)}
    )
    assert all(scope for scope, _ in receipt_timeouts_for(legacy, "smpp"))
