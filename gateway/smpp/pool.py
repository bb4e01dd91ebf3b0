"""Every bind to every configured SMSC, as one :class:`gateway.sms.messages.SMSSender`.

``send`` splits each message (alphabet, parts: see :mod:`gateway.sms.segmentation`),
puts all of one message's parts on the least-loaded bind that may transmit, and
answers one :class:`SendResult` per message: ACCEPTED with one message id per part,
FAILED if any part met a final error, RETRY if any part could not get through for
now. Delivery receipts come back through each SMSC's :class:`InboundRouter`, which
reports one status per message however many parts it had.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict
from typing import Any

import structlog

from gateway.pacing.shared_grant import SharedRateLimiter, TPSBudget
from gateway.pacing.sliding_window import BothLimits, RateLimiter
from gateway.settings import SettingsError, SMSCSettings
from gateway.smpp.durable_receipts import DurableReceipts, ReceiptMatchingStore
from gateway.smpp.esme import ESMEBind
from gateway.smpp.inbound import InboundRouter, process_number_key
from gateway.smpp.pdu import TAGS, TLV, SubmitSM, integer_tlv
from gateway.smpp.receipt_ids import ReceiptIdFormat
from gateway.smpp.receipt_tracker import ReceiptTracker, scoped_id
from gateway.smpp.routes import ANY, Route, choose, route_for, routing_table
from gateway.smpp.submits import PartResult
from gateway.smpp.tuning import LinkTuning
from gateway.smpp.ussd_profiles import UnknownProfileError
from gateway.sms.messages import InboundSink, OutboundSMS, SendOutcome, SendResult
from gateway.sms.segmentation import SegmentationError, SMSPart, SplitMode, plan
from gateway.ussd.types import USSDHandler

log = structlog.get_logger(__name__)

# An address SMPP can carry: digits, an optional leading "+", at most 20 octets.
_RECIPIENT = re.compile(r"\+?[0-9]{3,20}")


def receipt_timeouts(smscs: Sequence[SMSCSettings]) -> tuple[tuple[str, float], ...]:
    """(id scope, receipt timeout) per SMSC account: the account's first entry names
    the scope of its message ids and sets its timeout."""
    first: dict[tuple[str, int, str], SMSCSettings] = {}
    for smsc in smscs:
        first.setdefault((smsc.host, smsc.port, smsc.system_id), smsc)
    return tuple((smsc.name, smsc.receipt_timeout) for smsc in first.values())


class SMPPPool:
    def __init__(
        self,
        smscs: Sequence[SMSCSettings],
        sink: InboundSink | None = None,
        ussd_handler: USSDHandler | None = None,
        *,
        tuning: LinkTuning | None = None,
        number_key: Callable[[str], str] = process_number_key,
        receipt_store: ReceiptMatchingStore | None = None,
    ) -> None:
        self.smscs = tuple(smscs)
        self.routers: dict[str, InboundRouter] = {}
        self.binds: list[ESMEBind] = []
        # Entries that reach the same account (a receiver entry and a transmitter entry,
        # say) share receipts and transmitters: a receipt or a USSD request may arrive
        # on the receiver bind for a message the transmitter bind sent. The account's
        # message ids are scoped by the name of its first entry. With ``receipt_store``,
        # the account's held receipts and learned id format outlive a restart.
        shared: dict[tuple[str, int, str], tuple[DurableReceipts, list[ESMEBind]]] = {}
        self._accounts: list[InboundRouter] = []  # the first router of each account
        for smsc in smscs:
            account = (smsc.host, smsc.port, smsc.system_id)
            first = account not in shared
            if first:
                tracker = ReceiptTracker(smsc.name, ReceiptIdFormat(smsc.receipt_id))
                shared[account] = (DurableReceipts(tracker, receipt_store), [])
            durable, transmitters = shared[account]
            try:
                router = InboundRouter(smsc, sink, ussd_handler, number_key=number_key)
            except UnknownProfileError as exc:
                raise SettingsError(f"GATEWAY_SMSC {smsc.name!r}: {exc.args[0]}") from exc
            router.receipts, router.durable = durable.tracker, durable
            router.transmitters = transmitters
            if first:
                self._accounts.append(router)
            self.routers[smsc.name] = router
            for index in range(smsc.binds):
                bind = ESMEBind(smsc, index, on_deliver=router.on_deliver, tuning=tuning)
                self.binds.append(bind)
                if bind.can_transmit:
                    transmitters.append(bind)
        self._references = itertools.count(1)
        self._shared: list[SharedRateLimiter] = []
        self.routes = routing_table([(smsc.name, smsc.routes) for smsc in smscs])
        # Per route and SMSC: messages handed over, and how many of them by failover.
        self.route_counts: dict[tuple[str, str], dict[str, int]] = {}

    async def start(self) -> None:
        for router in self._accounts:
            try:
                await router.restore_receipts()
            except Exception as exc:  # the store is down: match in memory meanwhile
                log.error(
                    "smpp_receipt_matching_restore_failed",
                    smsc=router.settings.name,
                    error=type(exc).__name__,
                    detail=str(exc)[:200],
                )
        for bind in self.binds:
            await bind.start()

    async def stop(self) -> None:
        await asyncio.gather(*(bind.stop() for bind in self.binds))
        for limiter in self._shared:
            await limiter.close()
        self._shared.clear()

    def share_budget(self, budget_for: Callable[[SMSCSettings], TPSBudget | None]) -> None:
        """Make every bind also draw on its SMSC's budget shared with other workers (the
        operator's grant for the account), on top of its own ``tps`` cap."""
        for bind in self.binds:
            budget = budget_for(bind.settings)
            if budget is None or not bind.can_transmit:
                continue
            shared = SharedRateLimiter(budget, on_ready=bind.submits.pump, smsc=bind.settings.name)
            own = bind.submits.limiter
            assert isinstance(own, RateLimiter)
            bind.submits.limiter = BothLimits(own, shared)
            self._shared.append(shared)

    async def wait_bound(self) -> None:
        """Until every bind is bound (bound this with ``asyncio.timeout``)."""
        await asyncio.gather(*(bind.wait_bound() for bind in self.binds))

    def status(self) -> list[dict[str, Any]]:
        """One entry per bind, for the health endpoint (no numbers, no secrets)."""
        return [bind.status() for bind in self.binds]

    def receipt_status(self) -> list[dict[str, Any]]:
        """One entry per SMSC account: how its receipts were matched (counts only)."""
        trackers = {id(r.receipts): r.receipts for r in self.routers.values()}
        return [
            {
                "smsc": tracker.scope,
                "bad_concatenation": sum(
                    r.stats["bad_concatenation"]
                    for r in self.routers.values()
                    if r.receipts is tracker
                ),
                "receipt_id": (tracker.known_format.value if tracker.known_format else "learning"),
                "live": len(tracker),
                "held": tracker.held,
                **asdict(tracker.stats),
            }
            for tracker in trackers.values()
        ]

    def route_status(self) -> list[dict[str, Any]]:
        """Per route: its SMSCs in failover order, which are up, and the counts."""
        up = self._smscs_up()
        return [
            {
                "route": route.name,
                "smscs": [
                    {
                        "smsc": smsc,
                        "up": smsc in up,
                        **self.route_counts.get((route.name, smsc), {"sent": 0, "failover": 0}),
                    }
                    for smsc in route.smscs
                ],
                "state": "up" if any(smsc in up for smsc in route.smscs) else "down",
            }
            for route in self.routes
        ]

    def _smscs_up(self) -> set[str]:
        return {b.settings.name for b in self.binds if b.can_transmit and b.is_bound}

    def _bind_for(self, route: Route, up: set[str]) -> ESMEBind | None:
        if route.prefix == ANY:
            # SMSCs that name no prefix share the traffic: the least-loaded bind,
            # bound ones first (an SMSC that is down gets nothing new while one is up).
            binds = [b for b in self.binds if b.can_transmit and b.settings.name in route.smscs]
            if not binds:
                return None
            bind = min(binds, key=lambda b: (not b.is_bound, b.load))
            smsc, failover = bind.settings.name, False
        else:
            smsc, failover = choose(route, lambda name: name in up)
            binds = [b for b in self.binds if b.can_transmit and b.settings.name == smsc]
            if not binds:
                return None
            bind = min(binds, key=lambda b: (not b.is_bound, b.load))
        counts = self.route_counts.setdefault((route.name, smsc), {"sent": 0, "failover": 0})
        counts["sent"] += 1
        if failover:
            counts["failover"] += 1
        return bind

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        transmitters = [bind for bind in self.binds if bind.can_transmit]
        up = self._smscs_up()
        unroutable: set[str] = set()
        pending: list[tuple[OutboundSMS, ESMEBind | None, list[asyncio.Future[PartResult]]]] = []
        for message in messages:
            if not transmitters:
                pending.append((message, None, []))
                continue
            if not _RECIPIENT.fullmatch(message.recipient):
                pending.append((message, None, []))
                continue
            route = route_for(self.routes, message.recipient)
            chosen = self._bind_for(route, up) if route is not None else None
            if chosen is None:
                unroutable.add(message.reference)
                pending.append((message, None, []))
                continue
            bind = chosen
            try:
                parts = plan(
                    message.text,
                    SplitMode(bind.settings.split_mode),
                    next(self._references) & 0xFF,
                )
            except SegmentationError:
                pending.append((message, bind, []))
                continue
            request = message.request_receipt and bind.settings.request_dlr
            futures = [
                bind.submit(_submit_sm(bind, message, part, request), urgent=message.urgent)
                for part in parts
            ]
            pending.append((message, bind, futures))
        results: list[SendResult] = []
        for message, chosen, futures in pending:
            if chosen is None and not _RECIPIENT.fullmatch(message.recipient):
                results.append(
                    SendResult(message.reference, SendOutcome.FAILED, error="bad recipient")
                )
                continue
            if chosen is None and message.reference in unroutable:
                results.append(SendResult(message.reference, SendOutcome.FAILED, error="no route"))
                continue
            if chosen is None:
                results.append(SendResult(message.reference, SendOutcome.RETRY, error="no bind"))
                continue
            if not futures:
                results.append(SendResult(message.reference, SendOutcome.FAILED, error="too long"))
                continue
            parts_done = [await future for future in futures]
            results.append(self._result(message, chosen, parts_done))
        return results

    def _result(self, message: OutboundSMS, bind: ESMEBind, parts: list[PartResult]) -> SendResult:
        failed = [p for p in parts if p.outcome is SendOutcome.FAILED]
        if failed:
            return SendResult(
                message.reference, SendOutcome.FAILED, error=f"status 0x{failed[0].status:08x}"
            )
        if any(p.outcome is not SendOutcome.ACCEPTED for p in parts):
            retry = next(p for p in parts if p.outcome is not SendOutcome.ACCEPTED)
            return SendResult(
                message.reference, SendOutcome.RETRY, error=f"status 0x{retry.status:08x}"
            )
        raw = tuple(p.message_id for p in parts)
        tracker = self.routers[bind.settings.name].receipts
        if message.request_receipt and bind.settings.request_dlr:
            ids = tracker.submitted(raw)
        else:
            ids = tuple(scoped_id(tracker.scope, part) for part in raw)
        return SendResult(message.reference, SendOutcome.ACCEPTED, message_ids=ids)


def _submit_sm(bind: ESMEBind, message: OutboundSMS, part: SMSPart, receipt: bool) -> SubmitSM:
    tlvs: tuple[TLV, ...] = ()
    if part.concatenation is not None:
        joined = part.concatenation
        tlvs = (
            integer_tlv("sar_msg_ref_num", joined.reference),
            integer_tlv("sar_total_segments", joined.total),
            integer_tlv("sar_segment_seqnum", joined.sequence),
        )
    if part.message_payload is not None:
        tlvs = (*tlvs, TLV(TAGS["message_payload"], part.message_payload))
    return SubmitSM(
        source_addr=bind.settings.source_addr,
        source_addr_ton=_source_ton(bind.settings.source_addr),
        destination_addr=message.recipient.removeprefix("+"),
        dest_addr_ton=1 if message.recipient.startswith("+") else 0,
        esm_class=part.esm_class,
        registered_delivery=1 if receipt else 0,
        data_coding=part.data_coding,
        short_message=part.short_message,
        tlvs=tlvs,
    )


def _source_ton(source: str) -> int:
    """5 (alphanumeric) for a sender name like "InfoLine", else 0 (unknown)."""
    return 5 if source and not source.lstrip("+").isdigit() else 0
