"""The request, reply and session record stay immutable values with a safe repr, as
the frozen dataclasses they replaced were."""

from __future__ import annotations

import pytest

from gateway.menu.engine import SessionState
from gateway.ussd.sessions import SessionRecord
from gateway.ussd.types import USSDReply, USSDRequest

PHONE = "+254700123987"


def test_a_request_keeps_the_number_out_of_its_repr_and_shows_the_rest() -> None:
    request = USSDRequest("africastalking", "sess-1", PHONE, "*384#", "63902", "1", "1", True)
    shown = repr(request)
    assert PHONE not in shown and "700123987" not in shown
    assert shown.startswith("USSDRequest(channel='africastalking', session_id='sess-1',")
    assert "service_code='*384#'" in shown and "cumulative=True" in shown
    assert request.msisdn == PHONE


def test_requests_replies_and_records_cannot_be_changed() -> None:
    request = USSDRequest("africastalking", "s", PHONE)
    reply = USSDReply("Welcome", False, "main")
    record = SessionRecord(SessionState(screen="main", language="en"), "", reply, 1)
    for value, name in ((request, "msisdn"), (reply, "text"), (record, "hops")):
        with pytest.raises(AttributeError):
            setattr(value, name, "other")


def test_defaults_and_equality_are_those_of_the_dataclasses() -> None:
    request = USSDRequest("africastalking", "s", PHONE)
    assert (request.service_code, request.user_input, request.cumulative) == ("", None, False)
    assert (request.language, request.country, request.replay_key) == (None, "", "")
    assert USSDReply("a", True) == USSDReply("a", True, "")
    assert USSDReply("a", True, "x") != USSDReply("a", True, "y")
    state = SessionState(screen="main", language="en")
    record = SessionRecord(state, "1", USSDReply("a", False, "main"), 3)
    assert SessionRecord.loads(record.dumps()) == record
