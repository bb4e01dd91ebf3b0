"""The submit queue on an injected clock, over a real connection and a fake wire."""

from __future__ import annotations

import asyncio

from smpplib import consts

from gateway.smpp.connection import Role, SMPPConnection
from gateway.smpp.events import RequestReceived, ResponseReceived
from gateway.smpp.pdu import BindTransceiver, BindTransceiverResp, SubmitSM, SubmitSMResp
from gateway.smpp.submits import SubmitQueue
from gateway.smpp.tuning import LinkTuning
from gateway.sms.messages import SendOutcome


class Harness:
    """A bound ESME connection whose bytes go to an SMSC connection; time is a number."""

    def __init__(self, tps: float = 1000.0, window: int = 10, **tuning: float) -> None:
        self.now = 100.0
        self.esme = SMPPConnection(Role.ESME, window=window)
        self.smsc = SMPPConnection(Role.SMSC, window=window)
        self.smsc.receive_data(self.esme.send(BindTransceiver(sequence=1)))
        self.smsc.events()
        self.esme.receive_data(self.smsc.send(BindTransceiverResp(sequence=1)))
        self.esme.events()
        self.queue = SubmitQueue(
            tps, LinkTuning(**tuning), self.smsc.receive_data, clock=lambda: self.now
        )
        self.queue.link_up(self.esme)

    def arrived(self) -> list[SubmitSM]:
        got = [e.pdu for e in self.smsc.events() if isinstance(e, RequestReceived)]
        return [pdu for pdu in got if isinstance(pdu, SubmitSM)]

    def answer(self, pdu: SubmitSM, status: int = 0, message_id: str = "") -> None:
        data = self.smsc.send(
            SubmitSMResp(sequence=pdu.sequence, status=status, message_id=message_id)
        )
        self.esme.receive_data(data)
        for event in self.esme.events():
            assert isinstance(event, ResponseReceived)
            self.queue.answered(event.pdu.sequence, event.pdu.status, message_id)
        self.queue.pump()


def message(index: int) -> SubmitSM:
    return SubmitSM(destination_addr=str(index), short_message=b"m%d" % index)


async def test_rate_cap_on_the_injected_clock() -> None:
    harness = Harness(tps=3)
    futures = [harness.queue.submit(message(i)) for i in range(7)]
    first = harness.arrived()
    assert len(first) == 3
    for pdu in first:
        harness.answer(pdu, message_id="id")
    assert harness.arrived() == []  # the window is free, the second is not over
    harness.now += 1.0 + LinkTuning().rate_margin + 1e-6
    harness.queue.pump()
    assert len(harness.arrived()) == 3
    assert [f.done() for f in futures[:3]] == [True] * 3


async def test_window_bounds_what_is_in_flight() -> None:
    harness = Harness(window=4)
    for i in range(10):
        harness.queue.submit(message(i))
    assert len(harness.arrived()) == 4
    assert harness.queue.in_flight == 4 and harness.queue.queued == 6


async def test_throttled_message_is_sent_again_first_after_a_pause() -> None:
    harness = Harness(throttle_pause=0.5)
    future = harness.queue.submit(message(1))
    harness.queue.submit(message(2))
    first, _second = harness.arrived()
    harness.answer(first, status=consts.SMPP_ESME_RTHROTTLED)
    assert harness.arrived() == []  # paused
    harness.now += 0.5
    harness.queue.pump()
    (again,) = harness.arrived()
    assert again.short_message == first.short_message
    harness.answer(again, message_id="ok")
    assert future.result().outcome is SendOutcome.ACCEPTED
    assert harness.queue.throttled == 1


async def test_final_error_is_failed_and_not_resent() -> None:
    harness = Harness()
    future = harness.queue.submit(message(1))
    (pdu,) = harness.arrived()
    harness.answer(pdu, status=consts.SMPP_ESME_RINVDSTADR)
    assert future.result().outcome is SendOutcome.FAILED
    assert future.result().status == consts.SMPP_ESME_RINVDSTADR
    await asyncio.sleep(0.05)
    assert harness.arrived() == []


async def test_temporary_errors_are_retried_a_bounded_number_of_times() -> None:
    harness = Harness(temporary_pause=0.0, temporary_retries=2)
    future = harness.queue.submit(message(1))
    sent = 0
    for _ in range(10):
        await asyncio.sleep(0.01)
        for pdu in harness.arrived():
            sent += 1
            harness.answer(pdu, status=consts.SMPP_ESME_RMSGQFUL)
    assert sent == 3
    assert future.result().outcome is SendOutcome.RETRY


async def test_a_lost_link_puts_what_was_in_flight_back_first_in_order() -> None:
    harness = Harness(window=3)
    for i in range(5):
        harness.queue.submit(message(i))
    assert [p.destination_addr for p in harness.arrived()] == ["0", "1", "2"]
    harness.queue.link_down()
    fresh = Harness(window=3)
    fresh.queue = harness.queue
    harness.queue._write = fresh.smsc.receive_data  # the next link's socket
    harness.queue.link_up(fresh.esme)
    assert [p.destination_addr for p in fresh.arrived()] == ["0", "1", "2"]


async def test_close_answers_everything_waiting_with_retry() -> None:
    harness = Harness(window=1)
    futures = [harness.queue.submit(message(i)) for i in range(3)]
    harness.queue.close()
    assert {f.result().outcome for f in futures} == {SendOutcome.RETRY}
    late = harness.queue.submit(message(9))
    assert late.result().outcome is SendOutcome.RETRY


async def test_urgent_messages_overtake_the_bulk_backlog_within_the_rate_cap() -> None:
    harness = Harness(tps=5, window=3)
    for i in range(50):
        harness.queue.submit(message(i))  # a broadcast's backlog
    sent = harness.arrived()
    assert [pdu.destination_addr for pdu in sent] == ["0", "1", "2"]
    reply = harness.queue.submit(message(900), urgent=True)
    second = harness.queue.submit(message(901), urgent=True)
    for pdu in sent:
        harness.answer(pdu, message_id="id")
    after = harness.arrived()  # the window is free; 2 rate slots remain this second
    assert [pdu.destination_addr for pdu in after] == ["900", "901"]  # in their order
    harness.answer(after[0], message_id="r1")
    assert (await reply).outcome is SendOutcome.ACCEPTED and not second.done()
    assert harness.arrived() == []  # the urgent ones still count against the cap
    harness.now += 1.0 + LinkTuning().rate_margin + 1e-6
    harness.queue.pump()
    assert [pdu.destination_addr for pdu in harness.arrived()] == ["3", "4"]


async def test_a_throttled_urgent_message_stays_ahead_of_bulk() -> None:
    harness = Harness(window=2, throttle_pause=0.5)
    harness.queue.submit(message(1))
    harness.queue.submit(message(2))
    harness.queue.submit(message(3))
    (bulk_one, bulk_two) = harness.arrived()
    harness.queue.submit(message(900), urgent=True)
    harness.answer(bulk_one, message_id="a")
    (reply,) = harness.arrived()
    assert reply.destination_addr == "900"
    harness.answer(reply, status=consts.SMPP_ESME_RTHROTTLED)
    harness.answer(bulk_two, message_id="b")
    harness.now += 0.6
    harness.queue.pump()
    assert [pdu.destination_addr for pdu in harness.arrived()] == ["900", "3"]


async def test_a_window_throttled_at_once_pauses_once_and_a_pause_that_did_not_help_doubles() -> (
    None
):
    """Five submits out, all five answered ESME_RTHROTTLED: one congestion, one first
    pause (not 0.5 x 2^4 s). Throttled again after that pause: the pause doubles."""
    harness = Harness(window=5, throttle_pause=0.5, throttle_pause_max=10.0)
    futures = [harness.queue.submit(message(i)) for i in range(5)]
    for pdu in harness.arrived():
        harness.answer(pdu, status=consts.SMPP_ESME_RTHROTTLED)
    harness.now += 0.49
    harness.queue.pump()
    assert harness.arrived() == []  # still in the first pause
    harness.now += 0.02
    harness.queue.pump()
    again = harness.arrived()
    assert len(again) == 5  # one pause of 0.5 s for the whole window
    harness.answer(again[0], status=consts.SMPP_ESME_RTHROTTLED)
    harness.now += 0.9
    harness.queue.pump()
    assert harness.arrived() == []  # the second pause is 1 s
    for pdu in again[1:]:
        harness.answer(pdu, message_id="ok")
    harness.now += 0.2
    harness.queue.pump()
    (last,) = harness.arrived()
    harness.answer(last, message_id="ok")
    assert all(f.result().outcome is SendOutcome.ACCEPTED for f in futures)
    assert harness.queue.throttled == 6


async def test_a_message_sent_on_a_lost_link_and_given_up_is_uncertain_not_retry() -> None:
    from gateway.smpp.submits import NO_LINK, UNCERTAIN

    harness = Harness(window=2)
    futures = [harness.queue.submit(message(i)) for i in range(4)]
    assert len(harness.arrived()) == 2  # 0 and 1 written, 2 and 3 still queued
    harness.queue.link_down()
    harness.queue.fail_queued()  # no link within the submit deadline
    statuses = [f.result().status for f in futures]
    assert statuses == [UNCERTAIN, UNCERTAIN, NO_LINK, NO_LINK]
    assert {f.result().outcome for f in futures} == {SendOutcome.RETRY}


async def test_with_a_failover_target_the_unsent_are_released_at_once() -> None:
    from gateway.smpp.submits import NO_LINK

    harness = Harness(window=2)
    harness.queue.release_on_down = True
    futures = [harness.queue.submit(message(i)) for i in range(4)]
    harness.arrived()
    harness.queue.link_down()
    assert [f.done() for f in futures] == [False, False, True, True]
    assert {futures[2].result().status, futures[3].result().status} == {NO_LINK}
    # What was written waits for the same SMSC's next link: sent there again, nowhere else.
    fresh = Harness(window=2)
    harness.queue._write = fresh.smsc.receive_data
    harness.queue.link_up(fresh.esme)
    again = fresh.arrived()
    assert [p.destination_addr for p in again] == ["0", "1"]
    for pdu in again:
        fresh.queue = harness.queue
        fresh.answer(pdu, message_id=f"id-{pdu.destination_addr}")
    assert [f.result().outcome for f in futures[:2]] == [SendOutcome.ACCEPTED] * 2
