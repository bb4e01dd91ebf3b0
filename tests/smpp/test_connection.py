"""The sans-I/O connection: the state table decides every (state, input) pair, and
two connections joined by a fake wire bind, exchange, time out and unbind."""

from __future__ import annotations

import itertools
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from smpplib import consts

from gateway.smpp import codec
from gateway.smpp.connection import TRANSITIONS, Role, SMPPConnection, State
from gateway.smpp.errors import LocalProtocolError, SMPPProtocolError
from gateway.smpp.events import (
    BindRejected,
    Bound,
    IdleTimeElapsed,
    InvalidPDUReceived,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    StrayResponseReceived,
    Unbound,
)
from gateway.smpp.pdu import (
    PDU,
    PDU_CLASSES,
    RESPONSE_FOR,
    BindReceiver,
    BindReceiverResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DeliverSM,
    DeliverSMResp,
    EnquireLink,
    EnquireLinkResp,
    GenericNack,
    SubmitSM,
    SubmitSMResp,
    Unbind,
    UnbindResp,
)

REQUEST_FOR = {response: request for request, response in RESPONSE_FOR.items()}


class Wire:
    """Two connections joined back to back: what one sends, the other receives."""

    def __init__(self, window: int = 10) -> None:
        self.esme = SMPPConnection(
            Role.ESME, window=window, enquire_link_interval=30, response_timeout=10
        )
        self.smsc = SMPPConnection(Role.SMSC, window=window)

    def esme_sends(self, pdu: PDU) -> list[object]:
        self.smsc.receive_data(self.esme.send(pdu))
        return self.smsc.events()

    def smsc_sends(self, pdu: PDU) -> list[object]:
        self.esme.receive_data(self.smsc.send(pdu))
        return self.esme.events()

    def bind(self, request: type[PDU] = BindTransceiver) -> None:
        got = self.esme_sends(request(sequence=self.esme.next_sequence(), system_id="gw"))
        assert isinstance(got[0], RequestReceived)
        answer = RESPONSE_FOR[request](sequence=got[0].pdu.sequence, system_id="SMSC")
        assert self.smsc_sends(answer) == [Bound("SMSC")]


BIND_FOR_STATE = {
    State.BOUND_TX: BindTransmitter,
    State.BOUND_RX: BindReceiver,
    State.BOUND_TRX: BindTransceiver,
}


def connection_in(role: Role, state: State) -> SMPPConnection:
    """A connection of ``role`` brought to ``state`` through the public API only."""
    wire = Wire()
    conn = wire.esme if role is Role.ESME else wire.smsc
    if state is State.OPEN:
        return conn
    bind = BIND_FOR_STATE.get(state, BindTransceiver)
    wire.bind(bind)
    if state in BIND_FOR_STATE:
        return conn
    wire.esme_sends(Unbind(sequence=wire.esme.next_sequence()))
    if state is State.UNBINDING:
        return conn
    wire.smsc_sends(UnbindResp(sequence=wire.esme._sequence))
    assert conn.state is State.CLOSED
    return conn


def test_connection_in_reaches_every_state() -> None:
    for role, state in itertools.product(Role, State):
        assert connection_in(role, state).state is state


@pytest.mark.parametrize("role", list(Role), ids=lambda role: role.value)
@pytest.mark.parametrize("state", list(State), ids=lambda state: state.value)
@pytest.mark.parametrize("cls", PDU_CLASSES, ids=lambda cls: cls.__name__)
@pytest.mark.parametrize("direction", ["send", "receive"])
def test_every_state_and_input_follows_the_table(
    role: Role, state: State, cls: type[PDU], direction: str
) -> None:
    conn = connection_in(role, state)
    sender = role if direction == "send" else role.peer
    # Give a response something to answer when the table allows its request here.
    sequence = 77
    answers_ours = False
    if cls in REQUEST_FOR and direction == "receive":
        request = REQUEST_FOR[cls]
        if (state, role, request) in TRANSITIONS:
            sequence = conn.next_sequence()
            conn.send(request(sequence=sequence))
            state_after_request = conn.state
            answers_ours = True
        else:
            state_after_request = state
    elif cls in REQUEST_FOR and direction == "send":
        request = REQUEST_FOR[cls]
        state_after_request = state
        if (state, role.peer, request) in TRANSITIONS:
            conn.receive_data(codec.encode(request(sequence=sequence)))
            conn.events()
            state_after_request = conn.state
    else:
        state_after_request = state
    if direction == "send" and not cls(sequence=1).is_response:
        sequence = conn.next_sequence()
    pdu = cls(sequence=sequence)
    if (
        direction == "receive"
        and pdu.is_response
        and not answers_ours
        and state is not State.CLOSED
    ):
        # A response to nothing we sent is discarded and reported; nothing else moves.
        conn.receive_data(codec.encode(pdu))
        (event,) = conn.events()
        assert isinstance(event, StrayResponseReceived) and event.sequence == sequence
        assert conn.state is state
        return
    expected_error = LocalProtocolError if direction == "send" else SMPPProtocolError
    try:
        if state is State.CLOSED and direction == "receive":
            expected_error = LocalProtocolError  # nothing may be read once closed
        if direction == "send":
            conn.send(pdu)
        else:
            conn.receive_data(codec.encode(pdu))
    except (LocalProtocolError, SMPPProtocolError) as exc:
        assert isinstance(exc, expected_error)
        if state is not State.CLOSED:
            assert conn.state is State.CLOSED
        return
    allowed = (state_after_request, sender, cls) in TRANSITIONS
    assert allowed, f"{cls.__name__} accepted from the {sender.value} in {state.value}"
    target = TRANSITIONS[(state_after_request, sender, cls)]
    assert conn.state is (target or state_after_request)


operations = st.lists(
    st.tuples(
        st.sampled_from(["send", "receive"]), st.sampled_from(PDU_CLASSES), st.integers(1, 5)
    ),
    max_size=12,
)


@settings(max_examples=200)
@given(st.sampled_from(list(Role)), operations)
def test_any_sequence_of_inputs_raises_only_the_two_errors(
    role: Role, steps: list[tuple[str, type[PDU], int]]
) -> None:
    conn = SMPPConnection(role, window=2)
    for direction, cls, sequence in steps:
        before = conn.state
        try:
            if direction == "send":
                conn.send(cls(sequence=sequence))
            else:
                conn.receive_data(codec.encode(cls(sequence=sequence)))
            conn.events()
        except (LocalProtocolError, SMPPProtocolError) as exc:
            if direction == "receive" and before is not State.CLOSED:
                assert isinstance(exc, SMPPProtocolError)
                assert conn.state is State.CLOSED
            elif direction == "send":
                # A table violation closes; a stale sequence or a full window does not.
                assert isinstance(exc, LocalProtocolError)
                assert conn.state in (State.CLOSED, before)
            if conn.state is State.CLOSED:
                break


def test_bind_exchange_and_unbind_over_a_fake_wire() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    assert wire.esme.state is State.BOUND_TRX and wire.smsc.state is State.BOUND_TRX

    sequence = wire.esme.next_sequence()
    got = wire.esme_sends(SubmitSM(sequence=sequence, destination_addr="1", short_message=b"hi"))
    assert got == [
        RequestReceived(SubmitSM(sequence=sequence, destination_addr="1", short_message=b"hi"))
    ]
    events = wire.smsc_sends(SubmitSMResp(sequence=sequence, message_id="abc"))
    assert events == [
        ResponseReceived(SubmitSMResp(sequence=sequence, message_id="abc"), SubmitSM.COMMAND_ID)
    ]

    mo = DeliverSM(sequence=wire.smsc.next_sequence(), short_message=b"help")
    (received,) = wire.smsc_sends(mo)
    assert isinstance(received, RequestReceived) and received.pdu == mo
    answer = wire.esme_sends(DeliverSMResp(sequence=mo.sequence))
    assert isinstance(answer[0], ResponseReceived)

    wire.esme_sends(Unbind(sequence=wire.esme.next_sequence()))
    assert wire.esme.state is State.UNBINDING and wire.smsc.state is State.UNBINDING
    assert wire.smsc_sends(UnbindResp(sequence=wire.esme._sequence)) == [Unbound()]
    assert wire.esme.state is State.CLOSED and wire.smsc.state is State.CLOSED


def test_bind_rejection_leaves_the_connection_open() -> None:
    wire = Wire()
    got = wire.esme_sends(BindTransmitter(sequence=wire.esme.next_sequence()))
    reject = BindTransmitterResp(sequence=got[0].pdu.sequence, status=consts.SMPP_ESME_RINVPASWD)
    assert wire.smsc_sends(reject) == [BindRejected(consts.SMPP_ESME_RINVPASWD)]
    assert wire.esme.state is State.OPEN


def test_window_limits_outstanding_submits_and_responses_free_it() -> None:
    wire = Wire(window=3)
    wire.bind(BindTransmitter)
    sent = []
    for _ in range(3):
        sequence = wire.esme.next_sequence()
        wire.esme_sends(SubmitSM(sequence=sequence))
        sent.append(sequence)
    assert wire.esme.window_free == 0
    with pytest.raises(LocalProtocolError):
        wire.esme.send(SubmitSM(sequence=wire.esme.next_sequence()))


def test_responses_are_matched_by_sequence_in_any_order() -> None:
    wire = Wire(window=3)
    wire.bind(BindTransmitter)
    sequences = [wire.esme.next_sequence() for _ in range(3)]
    for sequence in sequences:
        wire.esme_sends(SubmitSM(sequence=sequence))
    for sequence in reversed(sequences):
        (event,) = wire.smsc_sends(SubmitSMResp(sequence=sequence, message_id=str(sequence)))
        assert isinstance(event, ResponseReceived)
        assert event.pdu.message_id == str(sequence)
    assert wire.esme.window_free == 3


def test_a_response_nobody_asked_for_is_reported_and_the_link_stays() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    sequence = wire.esme.next_sequence()
    wire.esme_sends(SubmitSM(sequence=sequence))
    for stray in (
        SubmitSMResp(sequence=999),
        EnquireLinkResp(sequence=998),
        DeliverSMResp(sequence=997),
        GenericNack(sequence=996),
        EnquireLinkResp(sequence=sequence),  # the wrong answer for that sequence
    ):
        wire.esme.receive_data(codec.encode(stray))
        (event,) = wire.esme.events()
        assert isinstance(event, StrayResponseReceived)
        assert event.command_id == stray.COMMAND_ID and event.sequence == stray.sequence
    assert wire.esme.state is State.BOUND_TRX
    assert wire.esme.outstanding == {sequence: SubmitSM}  # still waiting for its answer
    answer = SubmitSMResp(sequence=sequence, message_id="1")
    assert isinstance(wire.smsc_sends(answer)[0], ResponseReceived)
    wire.esme.receive_data(codec.encode(answer))  # the same answer again: stray
    assert isinstance(wire.esme.events()[0], StrayResponseReceived)


def test_a_known_request_with_a_bad_body_is_owed_its_own_response() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    good = codec.encode(DeliverSM(sequence=5, short_message=b"hi"))
    # A TLV header whose length runs past the end of the PDU.
    bad = good + b"\x04\x24\x00\x40"
    bad = len(bad).to_bytes(4, "big") + bad[4:]
    wire.esme.receive_data(bad)
    (event,) = wire.esme.events()
    assert isinstance(event, InvalidPDUReceived) and event.sequence == 5 and event.reason
    assert wire.esme.state is State.BOUND_TRX
    answer = wire.esme.send(DeliverSMResp(sequence=5, status=event.status))
    wire.smsc.receive_data(answer)
    assert wire.smsc.state is State.BOUND_TRX


def test_timeouts_and_keep_alive_come_only_from_tick() -> None:
    wire = Wire()
    wire.esme.enquire_link_interval = 30
    wire.esme.response_timeout = 10
    wire.bind(BindTransmitter)
    assert wire.esme.tick(100.0) == []
    sequence = wire.esme.next_sequence()
    wire.esme_sends(SubmitSM(sequence=sequence))
    assert wire.esme.tick(101.0) == []  # first sight of the request
    assert wire.esme.tick(110.0) == []
    assert wire.esme.tick(111.0) == [ResponseTimedOut(sequence, SubmitSM.COMMAND_ID)]
    assert wire.esme.window_free == wire.esme.window
    assert wire.esme.tick(131.0) == [IdleTimeElapsed()]
    enquire = wire.esme.next_sequence()
    wire.esme_sends(EnquireLink(sequence=enquire))
    # No second enquire_link while one is waiting; its own timeout fires instead.
    assert wire.esme.tick(161.0) == []
    assert wire.esme.tick(172.0)[0] == ResponseTimedOut(enquire, EnquireLink.COMMAND_ID)


def test_hearing_from_the_peer_postpones_the_enquire_link() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    wire.esme.tick(0.0)
    for now in (20.0, 40.0, 60.0):
        wire.smsc_sends(EnquireLink(sequence=wire.smsc.next_sequence()))
        wire.esme_sends(EnquireLinkResp(sequence=wire.smsc._sequence))
        assert wire.esme.tick(now) == []
    assert wire.esme.tick(91.0) == [IdleTimeElapsed()]


def test_unknown_command_is_not_fatal_and_names_the_sequence_to_nack() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    wire.esme.receive_data(b"\x00\x00\x00\x10\x00\x00\x09\x99\x00\x00\x00\x00\x00\x00\x10\x92")
    (event,) = wire.esme.events()
    assert (event.sequence, event.command_id, event.status) == (
        4242,
        0x999,
        consts.SMPP_ESME_RINVCMDID,
    )
    assert wire.esme.state is State.BOUND_TRX
    nack = wire.esme.send(GenericNack(sequence=4242, status=consts.SMPP_ESME_RINVCMDID))
    wire.smsc.receive_data(nack)
    assert isinstance(wire.smsc.events()[0], StrayResponseReceived)


def test_bad_framing_closes_and_raises_the_peer_error() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    with pytest.raises(SMPPProtocolError) as caught:
        wire.esme.receive_data(b"\xff\xff\xff\xff garbage")
    assert caught.value.fatal
    assert wire.esme.state is State.CLOSED


def test_a_pdu_arriving_byte_by_byte_gives_one_event() -> None:
    wire = Wire()
    wire.bind(BindTransceiver)
    data = wire.smsc.send(DeliverSM(sequence=wire.smsc.next_sequence(), short_message=b"x" * 50))
    for index in range(len(data) - 1):
        wire.esme.receive_data(data[index : index + 1])
        assert wire.esme.next_event() is None
    wire.esme.receive_data(data[-1:])
    assert isinstance(wire.esme.next_event(), RequestReceived)


def test_answering_a_request_twice_is_a_local_bug() -> None:
    wire = Wire()
    wire.bind(BindReceiver)
    mo = DeliverSM(sequence=wire.smsc.next_sequence())
    wire.smsc_sends(mo)
    wire.esme.send(DeliverSMResp(sequence=mo.sequence))
    with pytest.raises(LocalProtocolError):
        wire.esme.send(DeliverSMResp(sequence=mo.sequence))


def test_receiver_bind_may_not_submit() -> None:
    wire = Wire()
    wire.bind(BindReceiver)
    with pytest.raises(LocalProtocolError):
        wire.esme.send(SubmitSM(sequence=wire.esme.next_sequence()))
    assert wire.esme.state is State.CLOSED


def test_the_smsc_side_reaches_bound_by_answering() -> None:
    smsc = SMPPConnection(Role.SMSC)
    smsc.receive_data(codec.encode(BindReceiver(sequence=1, system_id="x")))
    assert isinstance(smsc.next_event(), RequestReceived)
    assert smsc.state is State.OPEN
    smsc.send(BindReceiverResp(sequence=1))
    assert smsc.state is State.BOUND_RX
    smsc2 = SMPPConnection(Role.SMSC)
    smsc2.receive_data(codec.encode(BindTransceiver(sequence=1)))
    smsc2.send(BindTransceiverResp(sequence=1, status=consts.SMPP_ESME_RBINDFAIL))
    assert smsc2.state is State.OPEN


def plausible_frame(command_id: int, status: int, sequence: int, body: bytes) -> bytes:
    return (
        (16 + len(body)).to_bytes(4, "big")
        + struct.pack(">III", command_id, status, sequence)
        + body
    )


frames = st.builds(
    plausible_frame,
    st.sampled_from([cls.COMMAND_ID for cls in PDU_CLASSES] + [0x999, 0x80000999]),
    st.sampled_from([0, 0x58, 0x14]),
    st.integers(0, 5),
    st.binary(max_size=80),
)


@settings(max_examples=200)
@given(st.sampled_from(list(Role)), st.lists(st.binary(max_size=200) | frames, max_size=20))
def test_random_bytes_from_the_peer_raise_only_the_peer_error_with_bounded_memory(
    role: Role, chunks: list[bytes]
) -> None:
    conn = SMPPConnection(role)
    if role is Role.ESME:
        conn.send(BindTransceiver(sequence=conn.next_sequence()))
    for chunk in chunks:
        try:
            conn.receive_data(chunk)
        except SMPPProtocolError:
            assert conn.state is State.CLOSED
            break
        conn.events()
        assert conn._reader.buffered <= codec.DEFAULT_MAX_LENGTH + len(chunk)
