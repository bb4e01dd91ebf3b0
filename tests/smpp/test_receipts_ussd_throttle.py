"""Pure pieces around the link: receipts, the USSD dialect, the rate cap."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.pacing.sliding_window import RateLimiter
from gateway.smpp import ussd_profiles as profiles
from gateway.smpp.pdu import DeliverSM, cstring_tlv, integer_tlv
from gateway.smpp.receipts import Receipt, is_receipt, parse_receipt
from gateway.sms.messages import DeliveryState

TEXT = "id:{} sub:001 dlvrd:001 submit date:2601010000 done date:2601010000 stat:{} err:{} text:"


def receipt_pdu(
    message_id: str, stat: str = "DELIVRD", err: str = "000", **kw: object
) -> DeliverSM:
    return DeliverSM(
        esm_class=0x04, short_message=TEXT.format(message_id, stat, err).encode(), **kw
    )


@pytest.mark.parametrize(
    ("stat", "state"),
    [
        ("DELIVRD", DeliveryState.DELIVERED),
        ("UNDELIV", DeliveryState.FAILED),
        ("EXPIRED", DeliveryState.EXPIRED),
        ("REJECTD", DeliveryState.REJECTED),
        ("ENROUTE", DeliveryState.BUFFERED),
    ],
)
def test_receipt_text_is_read(stat: str, state: DeliveryState) -> None:
    pdu = receipt_pdu("1a2b", stat)
    assert is_receipt(pdu)
    assert parse_receipt(pdu) == Receipt("1a2b", state)


def test_receipt_tlvs_win_over_the_text() -> None:
    pdu = receipt_pdu(
        "6699",
        "DELIVRD",
        tlvs=(cstring_tlv("receipted_message_id", "1A2B"), integer_tlv("message_state", 5)),
    )
    assert parse_receipt(pdu) == Receipt("1A2B", DeliveryState.FAILED)


def test_receipt_error_code_is_kept_when_not_zero() -> None:
    assert parse_receipt(receipt_pdu("7", "UNDELIV", "034")) == Receipt(
        "7", DeliveryState.FAILED, "034"
    )


def test_a_plain_mo_is_not_a_receipt() -> None:
    assert not is_receipt(DeliverSM(short_message=b"id:1 stat:DELIVRD"))
    assert parse_receipt(DeliverSM(esm_class=0x04, short_message=b"nothing here")) is None


def test_3gpp_profile_codes() -> None:
    profile = profiles.profile("3gpp")
    assert profile.action(1) is profiles.USSDAction.BEGIN
    assert profile.action(18) is profiles.USSDAction.CONTINUE
    assert profile.action(0x81) is None
    assert profile.reply_op(end=False) == 2 and profile.reply_op(end=True) == 17


def test_vendor_profile_reads_user_abort() -> None:
    assert profiles.profile("vendor-0x81").action(0x81) is profiles.USSDAction.ABORT


def test_unknown_profile_is_a_clear_error() -> None:
    with pytest.raises(profiles.UnknownProfileError, match="3gpp"):
        profiles.profile("nope")


def test_reply_echoes_session_info_and_sets_the_end_bit() -> None:
    profile = profiles.profile("3gpp")
    pdu = DeliverSM(
        tlvs=(integer_tlv("ussd_service_op", 1), integer_tlv("its_session_info", 0x2A04))
    )
    indication = profiles.read_indication(pdu, profile, "*123#")
    assert indication is not None
    assert indication.session_number == 0x2A and indication.action is profiles.USSDAction.BEGIN
    going_on = dict((t.tag, t.value) for t in profiles.reply_tlvs(profile, 0x2A04, end=False))
    ending = dict((t.tag, t.value) for t in profiles.reply_tlvs(profile, 0x2A04, end=True))
    assert going_on == {
        profiles.USSD_SERVICE_OP: b"\x02",
        profiles.ITS_SESSION_INFO: b"\x2a\x04",
    }
    assert ending == {
        profiles.USSD_SERVICE_OP: b"\x11",
        profiles.ITS_SESSION_INFO: b"\x2a\x05",
    }
    assert profiles.read_indication(DeliverSM(), profile, "") is None


@settings(max_examples=100)
@given(
    st.floats(0.5, 300),
    st.lists(st.floats(0, 0.05), min_size=1, max_size=400),
)
def test_rate_limiter_never_allows_more_than_tps_in_any_second(
    tps: float, gaps: list[float]
) -> None:
    limiter = RateLimiter(tps)
    # Below 1 TPS the cap is one send per 1/tps seconds.
    per_second, span = (tps, 1.0) if tps >= 1 else (1, 1 / tps)
    now, sent = 0.0, []
    for gap in gaps:
        now += gap
        wait = limiter.reserve(now)
        while wait > 0:
            now += wait
            wait = limiter.reserve(now)
        sent.append(now)
    start = 0
    for end, at in enumerate(sent):
        while at - sent[start] >= span:
            start += 1
        assert end - start + 1 <= per_second


def test_an_unknown_ussd_profile_fails_at_boot_naming_the_setting() -> None:
    from gateway.settings import Secret, SettingsError, SMSCSettings
    from gateway.smpp.pool import SMPPPool

    smsc = SMSCSettings("op1", "127.0.0.1", 1, "id", Secret("pw"), ussd_profile="huawei-ish")
    with pytest.raises(SettingsError, match=r"GATEWAY_SMSC 'op1'.*huawei-ish.*3gpp"):
        SMPPPool([smsc])


@settings(max_examples=200)
@given(st.integers(1, 100), st.floats(0, 0.999999))
def test_backoff_doubles_to_its_cap_with_jitter(attempt: int, unit: float) -> None:
    from gateway.smpp.esme import backoff_delay
    from gateway.smpp.tuning import LinkTuning

    tuning = LinkTuning(reconnect_initial=1.0, reconnect_max=60.0)
    base = min(60.0, 2.0 ** (attempt - 1))
    assert 0.5 * base <= backoff_delay(attempt, tuning, unit) < 1.5 * base
    assert backoff_delay(attempt + 1, tuning, unit) >= backoff_delay(attempt, tuning, unit)
