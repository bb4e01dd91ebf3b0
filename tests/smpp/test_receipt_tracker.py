"""Receipts tied to exactly the message they are for, whatever the SMSC's id habits."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.smpp.receipt_ids import (
    EVIDENCE_NEEDED,
    FormatLearner,
    ReceiptIdFormat,
    normalise,
    receipt_form,
    submitted_form,
)
from gateway.smpp.receipt_tracker import ReceiptTracker, scoped_id
from gateway.smpp.receipts import Receipt
from gateway.sms.messages import DeliveryState

DELIVERED = DeliveryState.DELIVERED
FAILED = DeliveryState.FAILED
AS_IS = ReceiptIdFormat.AS_IS
HEX_TO_DEC = ReceiptIdFormat.HEX_TO_DEC
DEC_TO_HEX = ReceiptIdFormat.DEC_TO_HEX


def test_a_failed_receipt_for_10_never_lands_on_16() -> None:
    """The reported bug: hex 10 is decimal 16, and both were live."""
    tracker = ReceiptTracker()
    tracker.submitted(("10",))
    tracker.submitted(("16",))
    reports = tracker.receive(Receipt("10", FAILED))
    assert Receipt("16", FAILED) not in reports
    assert reports == []  # could be either: held, not guessed
    assert tracker.held == 1 and tracker.stats.ambiguous == 1


def test_a_held_receipt_is_applied_once_the_format_is_known() -> None:
    tracker = ReceiptTracker()
    tracker.submitted(("10",))
    tracker.submitted(("16",))
    assert tracker.receive(Receipt("10", FAILED)) == []
    tracker.submitted(("1f",))  # a hex letter: the SMSC's submit ids are hex
    # A receipt id with a hex letter: receipts are hex too, so ids are as-is.
    reports = tracker.receive(Receipt("1F", DELIVERED))
    assert tracker.known_format is AS_IS
    assert sorted(reports, key=lambda r: r.message_id) == [
        Receipt("10", FAILED),
        Receipt("1f", DELIVERED),
    ]
    assert tracker.held == 0 and tracker.stats.resolved == 1
    assert tracker.receive(Receipt("16", DELIVERED)) == [Receipt("16", DELIVERED)]


def test_each_configured_format_reads_its_receipts() -> None:
    tracker = ReceiptTracker("smsc-a", AS_IS)
    tracker.submitted(("10",))
    tracker.submitted(("16",))
    assert tracker.receive(Receipt("10", FAILED)) == [Receipt("smsc-a/10", FAILED)]
    hex_to_dec = ReceiptTracker("b", HEX_TO_DEC)
    assert hex_to_dec.submitted(("1A2B",)) == ("b/1a2b",)
    assert hex_to_dec.receive(Receipt("6699", DELIVERED)) == [Receipt("b/1a2b", DELIVERED)]
    dec_to_hex = ReceiptTracker("c", DEC_TO_HEX)
    dec_to_hex.submitted(("12345",))
    assert dec_to_hex.receive(Receipt("3039", DELIVERED)) == [Receipt("c/12345", DELIVERED)]
    assert len(dec_to_hex) == 0  # final states are forgotten


def test_case_and_leading_zeros_do_not_make_another_id() -> None:
    tracker = ReceiptTracker("s", AS_IS)
    assert tracker.submitted(("00A1",)) == ("s/a1",)
    assert tracker.receive(Receipt("a1", DELIVERED)) == [Receipt("s/a1", DELIVERED)]
    assert normalise("000") == "0" and normalise("") == ""


def test_auto_learns_hex_to_dec_only_from_enough_single_format_matches() -> None:
    tracker = ReceiptTracker("s")
    ids = [format(n, "x") for n in range(0x1000, 0x1000 + 3 * EVIDENCE_NEEDED)]
    for message_id in ids:
        tracker.submitted((message_id,))
    assert tracker.known_format is None  # as-is or hex-to-dec: only receipts can tell
    reports = []
    for message_id in ids[: EVIDENCE_NEEDED - 1]:
        reports += tracker.receive(Receipt(str(int(message_id, 16)), DELIVERED))
    assert tracker.known_format is None
    reports += tracker.receive(Receipt(str(int(ids[EVIDENCE_NEEDED - 1], 16)), DELIVERED))
    assert tracker.known_format is HEX_TO_DEC
    assert [r.message_id for r in reports] == [f"s/{i}" for i in ids[:EVIDENCE_NEEDED]]


def test_contradicting_evidence_teaches_nothing() -> None:
    learner = FormatLearner()
    for _ in range(EVIDENCE_NEEDED):
        learner.saw_match(AS_IS)
        learner.saw_match(HEX_TO_DEC)
    assert learner.known is None
    assert not FormatLearner(DEC_TO_HEX).saw_submitted("1f")  # configured stays
    assert FormatLearner(DEC_TO_HEX).known is DEC_TO_HEX


def test_two_smscs_numbering_from_one_never_meet() -> None:
    first, second = ReceiptTracker("one", AS_IS), ReceiptTracker("two", AS_IS)
    assert first.submitted(("1",)) == ("one/1",)
    assert second.submitted(("1",)) == ("two/1",)
    assert second.receive(Receipt("1", FAILED)) == [Receipt("two/1", FAILED)]
    assert first.receive(Receipt("1", DELIVERED)) == [Receipt("one/1", DELIVERED)]


def test_a_restarted_counter_gives_the_id_to_the_newest_message() -> None:
    tracker = ReceiptTracker("s", AS_IS)
    tracker.submitted(("1",))
    tracker.submitted(("1",))  # the SMSC restarted and counts from 1 again
    assert tracker.stats.superseded == 1 and len(tracker) == 1
    assert tracker.receive(Receipt("1", DELIVERED)) == [Receipt("s/1", DELIVERED)]


def test_parts_of_one_message_give_one_status_when_all_are_final() -> None:
    tracker = ReceiptTracker("s", AS_IS)
    tracker.submitted(("a1", "a2", "a3"))
    assert tracker.receive(Receipt("a2", DELIVERED)) == []
    assert tracker.receive(Receipt("a1", DeliveryState.BUFFERED)) == []
    assert tracker.receive(Receipt("a1", DELIVERED)) == []
    assert tracker.receive(Receipt("a3", DELIVERED)) == [Receipt("s/a1", DELIVERED)]
    tracker.submitted(("b1", "b2"))
    tracker.receive(Receipt("b1", DELIVERED))
    assert tracker.receive(Receipt("b2", FAILED)) == [Receipt("s/b1", FAILED)]


def test_a_receipt_for_no_live_message_is_passed_on_in_submitted_form() -> None:
    assert ReceiptTracker("s", HEX_TO_DEC).receive(Receipt("26", DELIVERED)) == [
        Receipt("s/1a", DELIVERED)
    ]
    assert ReceiptTracker("s", AS_IS).receive(Receipt("ZZ-1", DELIVERED)) == [
        Receipt("s/zz-1", DELIVERED)
    ]
    unreadable = ReceiptTracker("s", HEX_TO_DEC)
    assert unreadable.receive(Receipt("zz", DELIVERED)) == []
    assert unreadable.stats.unreadable == 1
    # Unknown format, readings disagree: held, never guessed.
    assert ReceiptTracker("s").receive(Receipt("10", DELIVERED)) == []


@st.composite
def smsc_traffic(draw: st.DrawFn) -> tuple[ReceiptIdFormat, list[str], list[str], list[int]]:
    """An SMSC's habit, the ids it hands out, the ids its receipts carry, and the
    order the receipts come in (each after its own submission)."""
    id_format = draw(st.sampled_from([AS_IS, HEX_TO_DEC, DEC_TO_HEX]))
    hex_ids = id_format is HEX_TO_DEC or (id_format is AS_IS and draw(st.booleans()))
    start = draw(st.integers(min_value=0, max_value=300))
    count = draw(st.integers(min_value=1, max_value=80))
    submitted = [format(n, "x") if hex_ids else str(n) for n in range(start, start + count)]
    receipts = []
    for message_id in submitted:
        shown = receipt_form(id_format, message_id)
        assert shown is not None
        if id_format is AS_IS and draw(st.booleans()):
            shown = "00" + shown.upper()
        receipts.append(shown)
    order = draw(st.permutations(range(count)))
    return id_format, submitted, receipts, list(order)


@settings(max_examples=300, deadline=None)
@given(smsc_traffic(), st.booleans())
def test_no_receipt_ever_lands_on_another_message(
    traffic: tuple[ReceiptIdFormat, list[str], list[str], list[int]], configured: bool
) -> None:
    id_format, submitted, receipts, order = traffic
    tracker = ReceiptTracker("s", id_format if configured else ReceiptIdFormat.AUTO)
    for message_id in submitted:
        tracker.submitted((message_id,))
    states = {}
    for index in order:
        state = FAILED if index % 3 == 0 else DELIVERED
        states[scoped_id("s", submitted[index])] = state
        for report in tracker.receive(Receipt(receipts[index], state)):
            assert report.message_id in states, "a receipt for a message not yet receipted"
            assert report.state is states[report.message_id], "another message's state"
    if configured:
        assert tracker.held == 0 and len(tracker) == 0


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet="0123456789abcdefABCDEF", min_size=1, max_size=12))
def test_each_format_reads_back_what_it_writes(message_id: str) -> None:
    for id_format in (AS_IS, HEX_TO_DEC, DEC_TO_HEX):
        shown = receipt_form(id_format, message_id)
        if shown is not None:
            assert submitted_form(id_format, shown) == normalise(message_id)


# --- what outlives a restart (kept by gateway.smpp.durable_receipts) ---------------------


def test_changes_name_each_receipt_held_and_released_once_and_the_format_learned() -> None:
    tracker = ReceiptTracker("s")
    tracker.submitted(("10",))
    tracker.submitted(("16",))
    assert not tracker.take_changes()  # nothing to keep yet
    tracker.receive(Receipt("10", FAILED))
    tracker.receive(Receipt("10", FAILED))  # the same receipt again: held once
    changes = tracker.take_changes()
    assert changes.held == [Receipt("10", FAILED)] and changes.released == []
    assert changes.learned is None and tracker.held == 1
    tracker.submitted(("1f",))
    tracker.receive(Receipt("1F", DELIVERED))
    changes = tracker.take_changes()
    assert changes.held == [] and changes.released == [Receipt("10", FAILED)]
    assert changes.learned is AS_IS
    assert not tracker.take_changes()  # the format is reported once


def test_a_configured_format_is_never_reported_as_learned() -> None:
    tracker = ReceiptTracker("s", HEX_TO_DEC)
    tracker.submitted(("a",))
    tracker.receive(Receipt("10", DELIVERED))
    assert tracker.take_changes().learned is None


def test_restored_held_receipts_resolve_in_submitted_form_once_the_format_is_learned() -> None:
    """After a restart no live message is left: a held receipt, once the format is
    known, names its row by the scoped submitted id."""
    tracker = ReceiptTracker("s")
    assert tracker.restore(None, [Receipt("16", FAILED), Receipt("16", FAILED)]) == []
    assert tracker.held == 1 and tracker.stats.restored == 1
    assert not tracker.take_changes()  # already kept: not newly held
    ids = [format(n, "x") for n in range(0x1000, 0x1000 + EVIDENCE_NEEDED)]
    reports = []
    for message_id in ids:
        tracker.submitted((message_id,))
    for message_id in ids:
        reports += tracker.receive(Receipt(str(int(message_id, 16)), DELIVERED))
    assert tracker.known_format is HEX_TO_DEC
    assert Receipt("s/10", FAILED) in reports  # decimal 16 is hex 10
    changes = tracker.take_changes()
    assert changes.released == [Receipt("16", FAILED)] and changes.learned is HEX_TO_DEC


def test_a_restored_format_reads_held_receipts_at_once_and_is_not_kept_again() -> None:
    tracker = ReceiptTracker("s")
    reports = tracker.restore(HEX_TO_DEC, [Receipt("16", DELIVERED)])
    assert reports == [Receipt("s/10", DELIVERED)] and tracker.held == 0
    assert tracker.known_format is HEX_TO_DEC
    changes = tracker.take_changes()
    assert changes.learned is None and changes.released == [Receipt("16", DELIVERED)]
    configured = ReceiptTracker("s", AS_IS)
    assert configured.restore(HEX_TO_DEC, [Receipt("16", DELIVERED)]) == [
        Receipt("s/16", DELIVERED)
    ]  # the configuration wins over what was learned


def test_held_receipts_beyond_capacity_are_released_oldest_first() -> None:
    tracker = ReceiptTracker("s", hold_capacity=2)
    tracker.restore(None, [Receipt("1", FAILED), Receipt("2", FAILED), Receipt("3", FAILED)])
    assert tracker.held_receipts() == [Receipt("2", FAILED), Receipt("3", FAILED)]
    assert tracker.take_changes().released == [Receipt("1", FAILED)]
    assert tracker.stats.dropped == 1


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.integers(min_value=1, max_value=0x40), min_size=1, max_size=60, unique=True),
    st.integers(min_value=0, max_value=60),
)
def test_a_restart_anywhere_loses_no_held_receipt_and_keeps_none_resolved(
    values: list[int], restart_at: int
) -> None:
    """Hex ids from 1, receipts in decimal; the tracker is replaced by a new one (only
    what take_changes handed over survives) after ``restart_at`` receipts. Every held
    receipt is either still held (and kept) or was reported, and what is kept is
    exactly what is held."""
    kept: dict[tuple[str, str, str], Receipt] = {}
    learned: ReceiptIdFormat | None = None

    def keep(tracker: ReceiptTracker) -> None:
        nonlocal learned
        changes = tracker.take_changes()
        for receipt in changes.held:
            kept[(receipt.message_id, receipt.state.value, receipt.error)] = receipt
        for receipt in changes.released:
            kept.pop((receipt.message_id, receipt.state.value, receipt.error), None)
        learned = changes.learned or learned

    tracker = ReceiptTracker("s")
    for value in values:
        tracker.submitted((format(value, "x"),))
    for index, value in enumerate(values):
        if index == restart_at:
            tracker = ReceiptTracker("s")
            tracker.restore(learned, list(kept.values()))
            keep(tracker)
        tracker.receive(Receipt(str(value), DELIVERED))
        keep(tracker)
        assert sorted(kept.values(), key=str) == sorted(tracker.held_receipts(), key=str)
