"""The SMPP session as a sans-I/O state machine, for either end of the link.

``receive_data(bytes)`` takes what the socket read, ``next_event()`` hands out what
it meant, ``send(pdu) -> bytes`` checks a PDU against the state and returns the bytes
to write, ``tick(now)`` is the only way time enters. No socket, no clock.

Every state change lives in ``TRANSITIONS`` below, keyed by (state, who sends, which
command). A PDU the table does not list closes the connection and raises: the peer's
with :class:`SMPPProtocolError` (it carries the command_status to answer with), ours
with :class:`LocalProtocolError`. An unsuccessful response never changes the state.
"""

from __future__ import annotations

from collections import deque
from enum import Enum

from smpplib import consts

from gateway.smpp import codec
from gateway.smpp.errors import LocalProtocolError, SMPPProtocolError
from gateway.smpp.events import (
    BindRejected,
    Bound,
    Event,
    IdleTimeElapsed,
    InvalidPDUReceived,
    RequestReceived,
    ResponseReceived,
    ResponseTimedOut,
    StrayResponseReceived,
    Unbound,
)
from gateway.smpp.pdu import (
    BY_COMMAND_ID,
    PDU,
    RESPONSE_FOR,
    BindReceiver,
    BindReceiverResp,
    BindResp,
    BindTransceiver,
    BindTransceiverResp,
    BindTransmitter,
    BindTransmitterResp,
    DataSM,
    DataSMResp,
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


class Role(Enum):
    ESME = "esme"
    SMSC = "smsc"

    @property
    def peer(self) -> Role:
        return Role.SMSC if self is Role.ESME else Role.ESME


class State(Enum):
    OPEN = "open"
    BOUND_TX = "bound_tx"
    BOUND_RX = "bound_rx"
    BOUND_TRX = "bound_trx"
    UNBINDING = "unbinding"
    CLOSED = "closed"


ESME, SMSC = Role.ESME, Role.SMSC
OPEN, TX, RX, TRX = State.OPEN, State.BOUND_TX, State.BOUND_RX, State.BOUND_TRX
UNBINDING, CLOSED = State.UNBINDING, State.CLOSED
_BOTH = (ESME, SMSC)
_BOUND = (TX, RX, TRX)


# (state, sender, PDU class) -> next state; None = unchanged.
TRANSITIONS: dict[tuple[State, Role, type[PDU]], State | None] = {
    # Binding: the ESME asks, the SMSC's successful answer decides the bound state.
    (OPEN, ESME, BindTransmitter): None,
    (OPEN, ESME, BindReceiver): None,
    (OPEN, ESME, BindTransceiver): None,
    (OPEN, SMSC, BindTransmitterResp): TX,
    (OPEN, SMSC, BindReceiverResp): RX,
    (OPEN, SMSC, BindTransceiverResp): TRX,
    (OPEN, SMSC, GenericNack): None,
    # Keep-alive and nacks: either side, in any open or bound state.
    **{
        (s, r, p): None
        for s in (OPEN, *_BOUND)
        for r in _BOTH
        for p in (EnquireLink, EnquireLinkResp, GenericNack)
    },
    # ESME -> SMSC messages (transmitter side) and their answers.
    **{(s, ESME, SubmitSM): None for s in (TX, TRX)},
    **{(s, SMSC, SubmitSMResp): None for s in (TX, TRX)},
    # SMSC -> ESME messages (receiver side) and their answers.
    **{(s, SMSC, DeliverSM): None for s in (RX, TRX)},
    **{(s, ESME, DeliverSMResp): None for s in (RX, TRX)},
    # data_sm: the ESME sends it when it may transmit, the SMSC when it may deliver.
    **{(s, ESME, DataSM): None for s in (TX, TRX)},
    **{(s, SMSC, DataSMResp): None for s in (TX, TRX)},
    **{(s, SMSC, DataSM): None for s in (RX, TRX)},
    **{(s, ESME, DataSMResp): None for s in (RX, TRX)},
    # Unbinding: either side starts it; the answer closes the link.
    **{(s, r, Unbind): UNBINDING for s in (*_BOUND, UNBINDING) for r in _BOTH},
    **{(UNBINDING, r, UnbindResp): CLOSED for r in _BOTH},
    # While unbinding, answers to what was already in flight may still come and go.
    **{
        (UNBINDING, r, p): None
        for r in _BOTH
        for p in (SubmitSMResp, DeliverSMResp, DataSMResp, EnquireLinkResp, GenericNack)
    },
}
# TRANSITIONS indexed for the hot path: (state, own role) -> (the peer's moves, ours),
# each {PDU class: next state}. Derived from the table above, never edited by hand.
_MOVES: dict[tuple[State, Role], tuple[dict[type[PDU], State | None], ...]] = {
    (state, role): tuple(
        {cls: target for (at, by, cls), target in TRANSITIONS.items() if at is state and by is who}
        for who in (role.peer, role)
    )
    for state in State
    for role in Role
}
# Requests that count against the window: messages, not keep-alives or unbinds.
WINDOWED = (SubmitSM, DeliverSM, DataSM)


class SMPPConnection:
    """One SMPP session, from ``role``'s side."""

    def __init__(
        self,
        role: Role,
        *,
        window: int = 10,
        max_length: int = codec.DEFAULT_MAX_LENGTH,
        enquire_link_interval: float = 30.0,
        response_timeout: float = 10.0,
    ) -> None:
        if window < 1:
            raise ValueError("window must be at least 1")
        self.role = role
        self.window = window
        self.enquire_link_interval = enquire_link_interval
        self.response_timeout = response_timeout
        self._state = OPEN
        self._moves = _MOVES[(OPEN, role)]
        self._reader = codec.FrameReader(max_length)
        self._max_length = max_length
        self._events: deque[Event] = deque()
        self._sequence = 0
        # Our requests awaiting an answer: sequence -> [PDU class, time first seen by tick].
        self._outstanding: dict[int, tuple[type[PDU], float | None]] = {}
        self._windowed = 0
        # The peer's requests we still owe an answer: sequence -> PDU class.
        self._owed: dict[int, type[PDU]] = {}
        self._heard = False
        self._last_heard: float | None = None

    # --- what the caller reads -------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    @state.setter
    def state(self, state: State) -> None:
        self._state = state
        self._moves = _MOVES[(state, self.role)]

    @property
    def window_free(self) -> int:
        return self.window - self._windowed

    @property
    def may_submit(self) -> bool:
        """Bound as a transmitter or transceiver."""
        return self.state is TX or self.state is TRX

    @property
    def outstanding(self) -> dict[int, type[PDU]]:
        return {seq: entry[0] for seq, entry in self._outstanding.items()}

    def next_sequence(self) -> int:
        """A fresh sequence number for a request (1..0x7FFFFFFF, wrapping)."""
        self._sequence = self._sequence % 0x7FFFFFFF + 1
        return self._sequence

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def events(self) -> list[Event]:
        drained = list(self._events)
        self._events.clear()
        return drained

    # --- transitions -----------------------------------------------------------------

    def _transition(self, sender: Role, pdu: PDU) -> None:
        cls = type(pdu)
        moves = self._moves[sender is self.role]
        if cls not in moves:
            previous = self.state
            self.state = CLOSED
            message = f"{cls.__name__} from the {sender.value} in state {previous.value}"
            if sender is self.role:
                raise LocalProtocolError(message)
            raise SMPPProtocolError(
                message,
                consts.SMPP_ESME_RINVBNDSTS,
                sequence=pdu.sequence,
                command_id=pdu.COMMAND_ID,
            )
        target = moves[cls]
        if target is not None and (pdu.status == 0 or not pdu.is_response):
            self.state = target

    # --- outgoing --------------------------------------------------------------------

    def send(self, pdu: PDU, sequence: int | None = None) -> bytes:
        """Check ``pdu`` against the state and return its bytes.

        A request needs a sequence from :meth:`next_sequence`, in ``pdu`` or given as
        ``sequence`` (which then overrides ``pdu.sequence``: a queued PDU is sent
        without copying it). A response must answer a request the peer sent.
        """
        cls = type(pdu)
        if sequence is None:
            sequence = pdu.sequence
        if pdu.is_response:
            owed = self._owed.pop(sequence, None)
            if cls is not GenericNack and (owed is None or RESPONSE_FOR[owed] is not cls):
                self.state = CLOSED
                raise LocalProtocolError(f"{cls.__name__} answers no request of the peer")
        else:
            if sequence in self._outstanding or sequence <= 0:
                raise LocalProtocolError(f"sequence {sequence} is not fresh")
            if cls in WINDOWED and self._windowed >= self.window:
                raise LocalProtocolError("window full")
        self._transition(self.role, pdu)
        data = codec.encode(pdu, sequence)
        if not pdu.is_response:
            self._outstanding[sequence] = (cls, None)
            if cls in WINDOWED:
                self._windowed += 1
        return data

    def close(self) -> None:
        """The transport is gone: nothing more may be sent or received."""
        self.state = CLOSED

    # --- incoming --------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the socket and queue the events they make.

        Raises :class:`SMPPProtocolError` (and closes) when the stream cannot be
        trusted or the peer broke the state table; events queued before that remain.
        """
        if self.state is CLOSED:
            raise LocalProtocolError("receive_data on a closed connection")
        if data:
            self._heard = True
        self._reader.feed(data)
        while True:
            try:
                frame = self._reader.next_frame()
            except SMPPProtocolError:
                self.state = CLOSED
                raise
            if frame is None:
                return
            try:
                pdu = codec.decode(frame, self._max_length)
            except SMPPProtocolError as exc:
                self._invalid(exc)
                continue
            self._received(pdu)

    def _invalid(self, exc: SMPPProtocolError) -> None:
        answered = None
        if exc.command_id & 0x80000000:
            entry = self._forget(exc.sequence)
            answered = None if entry is None else entry.COMMAND_ID
        else:
            cls = BY_COMMAND_ID.get(exc.command_id)
            if cls is not None and cls in RESPONSE_FOR:
                # A known request with a bad body: it gets its own response with the
                # error (deliver_sm_resp, say), which this side now owes.
                self._owed[exc.sequence] = cls
        self._events.append(
            InvalidPDUReceived(exc.sequence, exc.command_id, exc.command_status, answered, str(exc))
        )

    def _forget(self, sequence: int) -> type[PDU] | None:
        entry = self._outstanding.pop(sequence, None)
        if entry is None:
            return None
        if entry[0] in WINDOWED:
            self._windowed -= 1
        return entry[0]

    def _received(self, pdu: PDU) -> None:
        peer = self.role.peer
        if not pdu.is_response:
            self._transition(peer, pdu)
            self._owed[pdu.sequence] = type(pdu)
            self._events.append(RequestReceived(pdu))
            return
        request = self._outstanding.get(pdu.sequence, (None, None))[0]
        if isinstance(pdu, GenericNack):
            if request is not None:
                self._transition(peer, pdu)
                self._forget(pdu.sequence)
                self._events.append(ResponseReceived(pdu, request.COMMAND_ID))
            else:
                self._stray(pdu, "answers no request of ours")
            return
        if request is None:
            self._stray(pdu, "answers no request of ours")
            return
        if RESPONSE_FOR[request] is not type(pdu):
            self._stray(pdu, f"does not answer the {request.__name__} of that sequence")
            return
        self._transition(peer, pdu)
        self._forget(pdu.sequence)
        if isinstance(pdu, BindResp):
            if pdu.status == 0:
                self._events.append(Bound(pdu.system_id))
            else:
                self._events.append(BindRejected(pdu.status))
        elif isinstance(pdu, UnbindResp):
            self._events.append(Unbound())
        else:
            self._events.append(ResponseReceived(pdu, request.COMMAND_ID))

    def _stray(self, pdu: PDU, why: str) -> None:
        """SMSCs repeat answers (a retransmission, a late answer after our timeout):
        one such answer must not cost a reconnect and a resent window. The request it
        might have answered, if any, stays outstanding and times out on its own."""
        self._events.append(
            StrayResponseReceived(
                pdu.sequence, pdu.COMMAND_ID, pdu.status, f"{type(pdu).__name__} {why}"
            )
        )

    # --- time ------------------------------------------------------------------------

    def tick(self, now: float) -> list[Event]:
        """Advance the clock to ``now``; returns (and does not queue) the timer events:
        requests past ``response_timeout`` (no longer outstanding afterwards) and an
        :class:`IdleTimeElapsed` when nothing was heard for the enquire_link interval
        and no enquire_link is already waiting."""
        fired: list[Event] = []
        if self._heard or self._last_heard is None:
            self._last_heard = now
            self._heard = False
        for sequence, (cls, stamped) in list(self._outstanding.items()):
            if stamped is None:
                self._outstanding[sequence] = (cls, now)
            elif now - stamped >= self.response_timeout:
                self._forget(sequence)
                fired.append(ResponseTimedOut(sequence, cls.COMMAND_ID))
        idle = now - self._last_heard >= self.enquire_link_interval
        waiting = any(entry[0] is EnquireLink for entry in self._outstanding.values())
        if idle and not waiting and self.state in (*_BOUND, OPEN):
            self._last_heard = now
            fired.append(IdleTimeElapsed())
        return fired
