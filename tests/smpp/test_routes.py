"""The routing table: longest prefix, SMSCs in failover order. Pure."""

from __future__ import annotations

from gateway.smpp.routes import Route, choose, route_for, routing_table


def test_longest_prefix_wins_and_order_is_failover_order() -> None:
    table = routing_table(
        [("op1", ["+254"]), ("op2", ["254", "+2547"]), ("any", []), ("op3", ["+254"])]
    )
    assert route_for(table, "+254712345678") == Route("2547", ("op2",))
    assert route_for(table, "254112345678") == Route("254", ("op1", "op2", "op3"))
    assert route_for(table, "+33612345678") == Route("", ("any",))
    assert route_for(routing_table([("op1", ["+254"])]), "+33612345678") is None
    assert Route("254", ()).name == "+254" and Route("", ()).name == "default"


def test_the_first_smsc_that_is_up_takes_it() -> None:
    route = Route("254", ("op1", "op2", "op3"))
    assert choose(route, lambda smsc: True) == ("op1", False)
    assert choose(route, lambda smsc: smsc == "op3") == ("op3", True)
    assert choose(route, lambda smsc: False) == ("op1", False)  # all down: wait on the first
