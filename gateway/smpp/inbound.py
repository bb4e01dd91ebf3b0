"""What one SMSC delivers to us: receipts, mobile-originated SMS and USSD.

The deliver_sm_resp goes out only when :meth:`InboundRouter.on_deliver` returns, and
it returns only after the :class:`InboundSink` (or the USSD handler) has returned,
i.e. after the item is stored. A re-delivered deliver_sm (our resp was lost) is
recognised by a digest of its content within ``dedup_window`` seconds and stored
once; the digest is also the message_id handed to the sink, so the store can drop a
re-delivery that arrives after a restart. The cost: the same person sending the
very same text twice inside that window counts once.

A long MO is acknowledged part by part (an SMSC that sends one deliver_sm at a time
would otherwise wait for us forever); the parts wait in memory, so a crash between
the first and the last part loses that one message.

USSD: the replay key is ``its_session_info`` (its 7-bit sequence number changes with
every exchange), so a re-delivered deliver_sm gets the same screen from the service;
SMSCs that send no its_session_info get a per-session counter instead.

Phone numbers are keyed by ``number_key`` (the gateway's PhoneHasher, else a BLAKE2b
with a per-process key); the number itself only travels inside the InboundSMS /
USSDRequest handed over.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import structlog
from smpplib import consts

from gateway.privacy.phone_numbers import REJECTIONS, smpp_e164
from gateway.settings import SMSCSettings
from gateway.smpp import ussd_profiles
from gateway.smpp.durable_receipts import DurableReceipts
from gateway.smpp.pdu import TAGS, TLV, DeliverSM, SubmitSM
from gateway.smpp.receipt_tracker import ReceiptTracker
from gateway.smpp.receipts import Receipt, is_receipt, parse_receipt
from gateway.smpp.submits import PartResult
from gateway.sms import encoding
from gateway.sms.messages import DeliveryReport, InboundSink, InboundSMS, SendOutcome
from gateway.sms.segmentation import Concatenation, Reassembler, parse_udh
from gateway.ussd.types import USSDHandler, USSDReply, USSDRequest

if TYPE_CHECKING:
    from gateway.smpp.esme import ESMEBind

log = structlog.get_logger(__name__)

_PROCESS_KEY = secrets.token_bytes(32)
_MESSAGE_PAYLOAD = TAGS["message_payload"]
_SAR_REF, _SAR_TOTAL, _SAR_SEQ = (
    TAGS["sar_msg_ref_num"],
    TAGS["sar_total_segments"],
    TAGS["sar_segment_seqnum"],
)
USSD_FAILURE_TEXT = "Sorry, the service is not available right now. Please try again later."
USSD_NOT_UNDERSTOOD_TEXT = "Sorry, this request could not be understood. Please dial again."


def process_number_key(number: str) -> str:
    """A non-reversible key for a phone number, stable for this process only."""
    return hashlib.blake2b(number.encode(), key=_PROCESS_KEY, digest_size=16).hexdigest()


@dataclass
class _USSDSession:
    session_id: str
    service_code: str
    touched: float
    requests: int = 0
    opened_by: str = ""  # the text of the begin, to recognise it sent again
    # The last "continue" handled (deliver_sm sequence_number, text) and our answer to
    # it: a profile with no per-exchange sequence in its session id (6d, mica, no
    # session id) recognises the same PDU sent again by these.
    last_input: tuple[int, str] | None = None
    last_answer: SubmitSM | None = None
    answer_state: str = ""  # "" in flight, "accepted", "refused"


# An operator that re-sends the session start, or a "continue", within this many
# seconds gets one answer.
DUPLICATE_BEGIN_WINDOW = 10.0


class InboundRouter:
    """Routes one SMSC's deliver_sm to the sink or the USSD handler."""

    def __init__(
        self,
        settings: SMSCSettings,
        sink: InboundSink | None,
        ussd_handler: USSDHandler | None = None,
        *,
        dedup_window: float = 600.0,
        dedup_capacity: int = 100_000,
        number_key: Callable[[str], str] = process_number_key,
    ) -> None:
        # Pass PhoneHasher.hash as ``number_key`` so the message ids of MO SMS stay the
        # same across restarts (and the store can drop a re-delivery after one).
        self.number_key = number_key
        self.transmitters: list[ESMEBind] = []
        self.settings = settings
        self.channel = f"smpp:{settings.name}"
        self.sink = sink
        self.ussd_handler = ussd_handler
        self.profile = ussd_profiles.profile(settings.ussd_profile)
        self.receipts = ReceiptTracker(settings.name)  # the pool shares one per account
        self.durable = DurableReceipts(self.receipts)  # and keeps it in the store
        self.reassembler = Reassembler()
        self.dedup_window = dedup_window
        self.dedup_capacity = dedup_capacity
        self._stored: OrderedDict[str, float] = OrderedDict()
        self._storing: dict[str, asyncio.Future[None]] = {}
        # Open USSD sessions, least recently used first; a network lets a session live
        # about 180 s, so one untouched for ``ussd_idle`` seconds is gone.
        self._sessions: OrderedDict[tuple[str, str], _USSDSession] = OrderedDict()
        # Sessions our last screen ended, kept DUPLICATE_BEGIN_WINDOW seconds: the
        # operator may still re-send the "continue" that screen answered.
        self._ended: OrderedDict[tuple[str, str], _USSDSession] = OrderedDict()
        self.ussd_idle = 300.0
        self.stats = {
            "mo": 0,
            "mo_duplicates": 0,
            "receipts": 0,
            "ussd": 0,
            "bad_concatenation": 0,
            "ussd_duplicate_begin": 0,
            "ussd_duplicate_continue": 0,
            "ussd_replies_refused": 0,
        }

    def _caller(self, pdu: DeliverSM, where: str) -> str | None:
        """The sender as E.164 (by its TON, national forms in the SMSC's
        ``default_country``); None, counted and logged without it, when unreadable."""
        number = smpp_e164(pdu.source_addr, pdu.source_addr_ton, self.settings.default_country)
        if number is None:
            REJECTIONS.reject(self.channel, where)
        return number

    async def on_deliver(self, bind: ESMEBind, pdu: DeliverSM) -> int:
        """Handle ``pdu``; returns the command_status for the deliver_sm_resp."""
        if is_receipt(pdu):
            return await self._receipt(pdu)
        if pdu.tlv(ussd_profiles.USSD_SERVICE_OP) is not None:
            return await self._ussd(bind, pdu)
        return await self._mobile_originated(pdu)

    # --- receipts --------------------------------------------------------------------

    async def _receipt(self, pdu: DeliverSM) -> int:
        receipt = parse_receipt(pdu)
        if receipt is None:
            log.warning("smpp_receipt_unreadable", smsc=self.settings.name)
            return 0
        self.stats["receipts"] += 1
        held_before = self.receipts.stats.ambiguous
        known_before = self.receipts.known_format
        await self.durable.receive(receipt, self._report)
        if known_before is None and self.receipts.known_format is not None:
            log.info(
                "smpp_receipt_id_format_learned",
                smsc=self.settings.name,
                receipt_id=self.receipts.known_format.value,
                resolved=self.receipts.stats.resolved,
            )
        if self.receipts.stats.ambiguous > held_before:
            log.warning(
                "smpp_receipt_held",
                smsc=self.settings.name,
                reason="could belong to two live messages; waiting for the id format",
                held=self.receipts.held,
            )
        return 0

    async def _report(self, reports: list[Receipt]) -> None:
        if self.sink is None:
            return
        sink = self.sink
        await asyncio.gather(
            *(
                sink.on_delivery_report(
                    DeliveryReport(self.channel, r.message_id, r.state, r.error)
                )
                for r in reports
            )
        )

    async def restore_receipts(self) -> None:
        """At start: the account's learned id format and held receipts, from the store."""
        restored = await self.durable.restore(self._report)
        known = self.receipts.known_format
        if restored or known is not None:
            log.info(
                "smpp_receipt_matching_restored",
                smsc=self.settings.name,
                receipt_id=known.value if known is not None else "learning",
                restored=restored,
                still_held=self.receipts.held,
            )

    # --- mobile-originated SMS -------------------------------------------------------

    async def _mobile_originated(self, pdu: DeliverSM) -> int:
        if self.sink is None:
            return int(consts.SMPP_ESME_RX_T_APPN)
        number = self._caller(pdu, "mo")
        if number is None:
            return 0  # acknowledged: the SMSC would only send it again
        sender = self.number_key(number)
        payload = pdu.tlv(_MESSAGE_PAYLOAD)
        body = payload if payload is not None else pdu.short_message
        part: Concatenation | None = None
        if payload is None and pdu.esm_class & 0x40:
            part, body = parse_udh(body)
        elif pdu.tlv(_SAR_REF) is not None:
            part = Concatenation(
                pdu.tlv_int(_SAR_REF) or 0,
                pdu.tlv_int(_SAR_TOTAL) or 1,
                pdu.tlv_int(_SAR_SEQ) or 1,
            )
        if part is not None and not 1 <= part.sequence <= part.total:
            # "Part 3 of 2": the parts can never make a whole. Keep what came as a
            # message of its own rather than acknowledge it and lose it.
            self.stats["bad_concatenation"] += 1
            log.warning(
                "smpp_bad_concatenation",
                smsc=self.settings.name,
                reference=part.reference,
                part=part.sequence,
                total=part.total,
                action="stored as a message of its own",
            )
            part = None
        data_coding = pdu.data_coding
        digest_source = [sender, pdu.destination_addr, str(data_coding)]
        if part is not None:
            whole = self.reassembler.add(sender, part, data_coding, body, time.monotonic())
            if whole is None:
                return 0
            body, data_coding = whole
            digest_source.append(f"{part.reference}/{part.total}")
        digest = hashlib.blake2b(
            "\0".join(digest_source).encode() + b"\0" + body, digest_size=12
        ).hexdigest()
        return await self._store_once(digest, pdu, encoding.decode(body, data_coding), number)

    async def _store_once(self, digest: str, pdu: DeliverSM, text: str, number: str) -> int:
        now = time.monotonic()
        while self._stored:
            oldest, stored_at = next(iter(self._stored.items()))
            if now - stored_at < self.dedup_window and len(self._stored) <= self.dedup_capacity:
                break
            del self._stored[oldest]
        if digest in self._stored:
            self.stats["mo_duplicates"] += 1
            return 0
        running = self._storing.get(digest)
        if running is not None:  # the same message is being stored right now
            self.stats["mo_duplicates"] += 1
            await asyncio.shield(running)
            return 0
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._storing[digest] = done
        try:
            assert self.sink is not None
            await self.sink.on_inbound_sms(
                InboundSMS(
                    channel=self.channel,
                    sender=number,
                    recipient=pdu.destination_addr,
                    text=text,
                    message_id=f"smpp-{digest}",
                    received_at=time.time(),
                    network_country=self.settings.default_country,
                )
            )
            self._stored[digest] = now
            self.stats["mo"] += 1
            done.set_result(None)
        except Exception as exc:
            done.set_exception(exc)
            done.exception()  # retrieved: a waiting duplicate re-raises it itself
            raise
        except BaseException:
            done.cancel()
            raise
        finally:
            del self._storing[digest]
        return 0

    # --- USSD ------------------------------------------------------------------------

    async def _ussd(self, bind: ESMEBind, pdu: DeliverSM) -> int:
        payload = pdu.tlv(_MESSAGE_PAYLOAD)
        raw = payload if payload is not None else pdu.short_message
        text = encoding.decode(raw, pdu.data_coding)
        indication = ussd_profiles.read_indication(pdu, self.profile, text)
        if indication is None or self.ussd_handler is None:
            return int(consts.SMPP_ESME_RX_P_APPN)
        self.stats["ussd"] += 1
        number = self._caller(pdu, "ussd")
        if number is None:  # a polite closing screen: nobody can be served without one
            answer = self._ussd_reply(pdu, USSDReply(USSD_FAILURE_TEXT, end=True), indication)
            asyncio.get_running_loop().call_soon(self._send_reply, self._reply_bind(bind), answer)
            return 0
        if self.profile.session_by == "none":
            # No session id: the same person on the same code, within a time window.
            session_part = f"to:{pdu.destination_addr}"
        else:
            session_part = f"id:{indication.session_number}"
        key = (self.number_key(number), session_part)
        action = indication.action
        if action is None:
            # The handset must not be left waiting on a blank screen: end politely.
            log.warning(
                "smpp_ussd_unknown_op",
                smsc=self.settings.name,
                op=f"0x{indication.op:02x}",
                profile=self.settings.ussd_profile,
                action="polite end screen",
            )
            self._sessions.pop(key, None)
            answer = self._ussd_reply(
                pdu, USSDReply(USSD_NOT_UNDERSTOOD_TEXT, end=True), indication
            )
            asyncio.get_running_loop().call_soon(self._send_reply, self._reply_bind(bind), answer)
            return 0
        if action is ussd_profiles.USSDAction.ABORT:
            self._sessions.pop(key, None)
            return 0
        now = time.monotonic()
        while self._sessions:
            oldest = next(iter(self._sessions.values()))
            if now - oldest.touched < self.ussd_idle:
                break
            self._sessions.popitem(last=False)
        begin = action is ussd_profiles.USSDAction.BEGIN
        session = self._sessions.get(key)
        if (
            session is not None
            and self.profile.session_by == "none"
            and now - session.touched > ussd_profiles.NO_ID_WINDOW
        ):
            session = None  # outside the window: whatever comes is a new session
        if (
            begin
            and session is not None
            and session.requests == 1
            and session.opened_by == text
            and now - session.touched < DUPLICATE_BEGIN_WINDOW
        ):
            # The operator sent the session start again: it was answered once already.
            self.stats["ussd_duplicate_begin"] += 1
            log.info("smpp_ussd_duplicate_begin", smsc=self.settings.name, action="ignored")
            return 0
        if not begin and not indication.sequenced:
            again = self._continue_again(key, session, pdu, text, now)
            if again is not None:
                if again.answer_state == "refused" and again.last_answer is not None:
                    # Our screen never got through: the same screen, once more.
                    again.answer_state = ""
                    via = self._reply_bind(bind)
                    asyncio.get_running_loop().call_soon(
                        self._send_reply, via, again.last_answer, again
                    )
                return 0
        if begin or session is None:
            # A "continue" for a session we do not know (expired, or a restart) starts
            # one, so the handset gets a first screen rather than silence.
            code = text if begin else self.settings.service_code
            session = _USSDSession(secrets.token_hex(8), code, now, opened_by=text)
            self._sessions[key] = session
        self._sessions.move_to_end(key)
        session.touched = now
        session.requests += 1
        if not begin:  # from now on, this very PDU sent again is not new input
            session.last_input = (pdu.sequence, text)
        session.last_answer, session.answer_state = None, ""
        replay = (
            f"{indication.session_info:04x}"
            if indication.session_info is not None and indication.sequenced
            else str(session.requests)
        )
        request = USSDRequest(
            channel=self.channel,
            session_id=session.session_id,
            msisdn=number,
            service_code=session.service_code,
            user_input=None if begin else text,
            replay_key=replay,
            # The SMSC's network's country (its national numbers' country): a caller
            # whose number is another country's is roaming on it.
            country=self.settings.default_country,
        )
        try:
            reply = await self.ussd_handler.handle(request)
        except Exception as exc:  # a broken handler must not hang the handset
            log.error("smpp_ussd_handler_failed", smsc=self.settings.name, error=type(exc).__name__)
            reply = USSDReply(USSD_FAILURE_TEXT, end=True)
        # The reply goes out after the deliver_sm_resp, which the bind writes as soon as
        # this coroutine returns: call_soon runs after that.
        answer = self._ussd_reply(pdu, reply, indication)
        session.last_answer = answer
        if reply.end:
            self._sessions.pop(key, None)
            self._ended[key] = session
        via = self._reply_bind(bind)
        asyncio.get_running_loop().call_soon(self._send_reply, via, answer, session)
        return 0

    def _continue_again(
        self,
        key: tuple[str, str],
        session: _USSDSession | None,
        pdu: DeliverSM,
        text: str,
        now: float,
    ) -> _USSDSession | None:
        """The session whose last "continue" ``pdu`` is, sent again by the operator
        (same session, same deliver_sm sequence_number, same text, within
        DUPLICATE_BEGIN_WINDOW), live or ended by our answer; None when it is new input."""
        while self._ended:
            oldest = next(iter(self._ended.values()))
            if now - oldest.touched < DUPLICATE_BEGIN_WINDOW:
                break
            self._ended.popitem(last=False)
        for candidate in (session, self._ended.get(key)):
            if (
                candidate is not None
                and candidate.last_input == (pdu.sequence, text)
                and now - candidate.touched < DUPLICATE_BEGIN_WINDOW
            ):
                self.stats["ussd_duplicate_continue"] += 1
                log.info(
                    "smpp_ussd_duplicate_continue",
                    smsc=self.settings.name,
                    sequence=pdu.sequence,
                    action="answered once" if candidate.answer_state != "refused" else "resent",
                )
                return candidate
        return None

    def _send_reply(
        self, bind: ESMEBind, answer: SubmitSM, session: _USSDSession | None = None
    ) -> None:
        def check(future: asyncio.Future[PartResult]) -> None:
            result = future.result()
            accepted = result.outcome is SendOutcome.ACCEPTED
            if session is not None and session.last_answer is answer:
                session.answer_state = "accepted" if accepted else "refused"
            if not accepted:
                self.stats["ussd_replies_refused"] += 1
                log.warning(
                    "smpp_ussd_reply_not_accepted",
                    smsc=self.settings.name,
                    outcome=result.outcome.value,
                    status=result.status,
                )

        bind.submit(answer, urgent=True).add_done_callback(check)

    def _reply_bind(self, bind: ESMEBind) -> ESMEBind:
        """A receiver bind cannot submit: answer through a transmitter of the same SMSC."""
        if bind.can_transmit:
            return bind
        bound = [other for other in self.transmitters if other.is_bound]
        return min(bound or self.transmitters or [bind], key=lambda other: other.load)

    def _ussd_reply(
        self, pdu: DeliverSM, reply: USSDReply, indication: ussd_profiles.USSDIndication
    ) -> SubmitSM:
        alphabet = encoding.alphabet_for(reply.text)
        body = encoding.encode(reply.text, alphabet)
        reference = indication.message_reference if self.profile.session_by == "umr" else None
        tlvs = ussd_profiles.reply_tlvs(self.profile, indication.session_info, reply.end, reference)
        if len(body) > 254:
            tlvs = (*tlvs, TLV(_MESSAGE_PAYLOAD, body))
            body = b""
        return SubmitSM(
            service_type="USSD",
            source_addr=pdu.destination_addr,
            destination_addr=pdu.source_addr,
            dest_addr_ton=pdu.source_addr_ton,
            dest_addr_npi=pdu.source_addr_npi,
            data_coding=alphabet.data_coding,
            short_message=body,
            tlvs=tlvs,
        )
