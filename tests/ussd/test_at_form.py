"""The AT form's fields as ``parse_ussd_form`` reads them, against the plain reading
(``_field``: missing is "", anything is a string, cut at ``MAX_FIELD``)."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.africastalking.ussd_dialect import (
    CHANNEL,
    MAX_FIELD,
    ATFormError,
    UnreadableNumber,
    _field,
    parse_ussd_form,
)
from gateway.privacy.phone_numbers import to_e164
from gateway.ussd.networks import country_from_network
from gateway.ussd.types import USSDRequest


def plainly(form: Mapping[str, str]) -> USSDRequest:
    session_id = _field(form, "sessionId").strip()
    phone = _field(form, "phoneNumber").strip()
    if not session_id or not phone:
        raise ATFormError("sessionId and phoneNumber are required")
    network_code = _field(form, "networkCode").strip()
    msisdn = to_e164(phone, country_from_network(network_code))
    if msisdn is None:
        raise UnreadableNumber("phoneNumber is not a phone number")
    return USSDRequest(
        channel=CHANNEL,
        session_id=session_id,
        msisdn=msisdn,
        service_code=_field(form, "serviceCode"),
        network_code=network_code,
        user_input=_field(form, "text"),
        replay_key=_field(form, "text"),
        cumulative=True,
    )


VALUES = st.one_of(
    st.sampled_from(["", " ", "ATUid_1", " 63902 ", "60201", "*384#", "1*2", "+254 711 000 001"]),
    st.text(max_size=8),
    st.text(min_size=MAX_FIELD - 2, max_size=MAX_FIELD + 3),
    st.integers(),
)
FORMS = st.dictionaries(
    st.sampled_from(["sessionId", "phoneNumber", "text", "networkCode", "serviceCode", "other"]),
    VALUES,
)


def outcome(parse, form):  # type: ignore[no-untyped-def]
    try:
        return parse(form)
    except ATFormError as exc:
        return type(exc), str(exc)


@settings(max_examples=400, deadline=None)
@given(FORMS)
def test_a_form_is_read_as_its_plain_fields_say(form: dict[str, object]) -> None:
    assert outcome(parse_ussd_form, form) == outcome(plainly, form)


def test_a_readable_form_gives_every_field_cut_and_stripped() -> None:
    form = {
        "sessionId": " ATUid_1 ",
        "phoneNumber": " +254711000001 ",
        "text": "1*" + "2" * 600,
        "networkCode": " 63902 ",
        "serviceCode": "*384#" + "9" * 600,
    }
    request = parse_ussd_form(form)
    assert request == plainly(form)
    assert request.session_id == "ATUid_1" and request.network_code == "63902"
    assert len(request.user_input or "") == MAX_FIELD == len(request.service_code)
    assert request.replay_key == request.user_input and request.cumulative
    assert request.channel == CHANNEL and request.msisdn == "+254711000001"


@pytest.mark.parametrize(
    ("form", "error"),
    [
        ({"phoneNumber": "+254711000001"}, ATFormError),
        ({"sessionId": "s", "phoneNumber": "  "}, ATFormError),
        ({"sessionId": "s", "phoneNumber": "not a number"}, UnreadableNumber),
    ],
)
def test_a_form_without_what_a_session_needs_is_refused(
    form: dict[str, str], error: type[Exception]
) -> None:
    with pytest.raises(error):
        parse_ussd_form(form)
