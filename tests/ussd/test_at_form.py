"""AT's USSD form as ``parse_ussd_form`` reads it: each field cut at ``MAX_FIELD``, the
identifiers stripped, and a form without what a session needs refused."""

from __future__ import annotations

import pytest

from gateway.africastalking.ussd_dialect import (
    CHANNEL,
    MAX_FIELD,
    ATFormError,
    UnreadableNumber,
    parse_ussd_form,
)


def test_a_readable_form_gives_every_field_cut_and_stripped() -> None:
    form = {
        "sessionId": " ATUid_1 ",
        "phoneNumber": " +254711000001 ",
        "text": "1*" + "2" * 600,
        "networkCode": " 63902 ",
        "serviceCode": "*384#" + "9" * 600,
    }
    request = parse_ussd_form(form)
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
