"""Every bind to every configured SMSC, as one :class:`gateway.sms.messages.SMSSender`,
with the routing table in front (:mod:`gateway.smpp.routes`: destination prefix or
country -> targets in failover order, SMSCs or Africa's Talking, each route with its
own rate).

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
from dataclasses import asdict, dataclass, replace
from typing import Any

import phonenumbers
import structlog

from gateway.pacing.shared_grant import SharedRateLimiter, TPSBudget
from gateway.pacing.sliding_window import BothLimits, RateLimiter
from gateway.settings import RouteSettings, SettingsError, SMSCSettings
from gateway.smpp.durable_receipts import DurableReceipts, ReceiptMatchingStore
from gateway.smpp.esme import ESMEBind
from gateway.smpp.inbound import InboundRouter, process_number_key
from gateway.smpp.pdu import TAGS, TLV, SubmitSM, absolute_time, integer_tlv
from gateway.smpp.receipt_ids import ReceiptIdFormat
from gateway.smpp.receipt_tracker import ReceiptTracker, scoped_id
from gateway.smpp.routes import (
    AFRICAS_TALKING,
    DEFAULT_FAILOVER_ON,
    Answer,
    Attempt,
    Route,
    RoutePacing,
    Step,
    choose,
    route_for,
    routing_table,
)
from gateway.smpp.submits import NO_LINK, UNCERTAIN, PartResult, status_name
from gateway.smpp.tuning import LinkTuning
from gateway.smpp.ussd_profiles import UnknownProfileError
from gateway.sms.messages import InboundSink, OutboundSMS, SendOutcome, SendResult, SMSSender
from gateway.sms.segmentation import SegmentationError, SMSPart, SplitMode, plan
from gateway.ussd.types import USSDHandler

log = structlog.get_logger(__name__)

# An address SMPP can carry: digits, an optional leading "+", at most 20 octets.
_RECIPIENT = re.compile(r"\+?[0-9]{3,20}")

AT_CHANNEL = "africastalking"  # the channel family of AT's message ids (its callbacks)
# AT sender errors (gateway.africastalking.sms_sender): the request never left, or it
# left and no answer came back (AT may have sent the message).
AT_NOT_SENT = frozenset({"ClientConnectorError", "ClientConnectorDNSError"})
AT_NO_ANSWER = frozenset(
    {"TimeoutError", "ServerDisconnectedError", "ServerTimeoutError", "ClientPayloadError"}
)
AT_DOWN_SECONDS = 30.0  # after such an error AT counts as down (others go first) this long
# Per route and target: handed over, handed over by failover (an earlier target was
# down or refused it), and what became of them.
ROUTE_COUNTS = (
    "submitted",
    "failover",
    "accepted",
    "refused",
    "failed_over",
    "unknown",
    "retry",
    "opted_out",
)
_KIND = {
    Answer.ACCEPTED: "accepted",
    Answer.REFUSED: "refused",
    Answer.RETRY: "retry",
    Answer.NOT_SENT: "retry",
    Answer.UNKNOWN: "unknown",
    Answer.OPTED_OUT: "opted_out",
}


def region_of(recipient: str) -> str | None:
    """The ISO country of an E.164 number (``KE``), None when phonenumbers cannot tell."""
    try:
        parsed = phonenumbers.parse("+" + recipient.removeprefix("+"))
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def build_routes(
    smscs: Sequence[SMSCSettings],
    routes: Sequence[RouteSettings] = (),
    failover_on: Sequence[str] | None = None,
) -> tuple[Route, ...]:
    """The routing table: ``GATEWAY_ROUTES`` when set, else the SMSCs' own ``routes``."""
    default = frozenset(failover_on) if failover_on is not None else DEFAULT_FAILOVER_ON
    if not routes:
        return tuple(
            replace(route, failover_on=default)
            for route in routing_table(
                [(s.name, s.routes) for s in smscs if s.bind_mode != "receiver"]
            )
        )
    return tuple(
        Route(
            prefix=route.prefixes[0].removeprefix("+") if route.prefixes else "",
            smscs=route.targets,
            label=route.name,
            prefixes=tuple(prefix.removeprefix("+") for prefix in route.prefixes),
            countries=tuple(
                (country, str(phonenumbers.country_code_for_region(country)))
                for country in route.countries
            ),
            tps=route.tps,
            failover_on=(
                frozenset(route.failover_on) if route.failover_on is not None else default
            ),
        )
        for route in routes
    )


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
        routes: Sequence[RouteSettings] = (),
        failover_on: Sequence[str] | None = None,
        africastalking: SMSSender | None = None,
        region: Callable[[str], str | None] = region_of,
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
        self.routes = build_routes(smscs, routes, failover_on)
        self.africastalking = africastalking
        self._region = region
        self._by_country = any(route.countries for route in self.routes)
        self._pacing = RoutePacing(self.routes, 0.0)
        self._at_waiting: list[tuple[OutboundSMS, asyncio.Future[SendResult]]] = []
        self._at_tasks: set[asyncio.Task[None]] = set()
        self._at_down_until = 0.0
        # Per (route, target): the ROUTE_COUNTS.
        self.route_counts: dict[tuple[str, str], dict[str, int]] = {}
        # An SMSC with a failover target hands back, at once, what it had not yet
        # written when its link went down (the next target can take it).
        backed_up = {
            target
            for route in self.routes
            if not route.balance and len(route.smscs) > 1
            for target in route.smscs[:-1]
        }
        for bind in self.binds:
            bind.submits.release_on_down = bind.settings.name in backed_up

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
        await asyncio.gather(*(bind.stop() for bind in self.binds), *self._at_tasks)
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
        """Per route: its targets in failover order, which are up, the one that takes
        new messages now, and the counts (no numbers)."""
        up = self._targets_up()
        entries = []
        for route in self.routes:
            current = choose(route, lambda target: target in up)
            any_up = any(target in up for target in route.smscs)
            entries.append(
                {
                    "route": route.name,
                    "matches": [f"+{p}" for p in route.prefixes or (route.prefix,) if p]
                    + [country for country, _ in route.countries],
                    "tps": route.tps,
                    "state": "up" if any_up else "down",
                    "current": current[0] if current is not None and any_up else None,
                    "failover": sum(
                        self._counts(route, target)["failover"] for target in route.smscs
                    ),
                    "targets": [
                        {
                            "target": target,
                            "kind": "africastalking" if target == AFRICAS_TALKING else "smpp",
                            "up": target in up,
                            **self._counts(route, target),
                        }
                        for target in route.smscs
                    ],
                }
            )
        return entries

    def _counts(self, route: Route, target: str) -> dict[str, int]:
        return self.route_counts.setdefault(
            (route.name, target), {kind: 0 for kind in ROUTE_COUNTS}
        )

    def _count(self, route: Route, target: str, kind: str) -> None:
        self._counts(route, target)[kind] += 1

    def _smscs_up(self) -> set[str]:
        return {b.settings.name for b in self.binds if b.can_transmit and b.is_bound}

    def _targets_up(self) -> set[str]:
        up = self._smscs_up()
        if self.africastalking is not None and self._loop_time() >= self._at_down_until:
            up.add(AFRICAS_TALKING)
        return up

    @staticmethod
    def _loop_time() -> float:
        return asyncio.get_running_loop().time()

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        if not any(bind.can_transmit for bind in self.binds) and self.africastalking is None:
            return [SendResult(m.reference, SendOutcome.RETRY, error="no bind") for m in messages]
        # Every message's first submission is queued before any answer is awaited (the
        # window fills), without a task per message; a message that goes on to another
        # target, or whose route is paced or uses AT, continues in a task of its own.
        # A caller that gives up (cancelled) takes those tasks with it: nobody is left
        # to record what they would send.
        begun = [self._begin(message) for message in messages]
        results: list[SendResult | None] = []
        later: dict[int, asyncio.Future[SendResult]] = {}
        try:
            for index, item in enumerate(begun):
                if isinstance(item, SendResult):
                    results.append(item)
                elif isinstance(item, _Submitted):
                    answered = self._answer(item.route, item.target, await self._settle(item))
                    step = item.attempt.answered(item.target, answered[1], answered[2])
                    if step is Step.DONE:
                        results.append(answered[0])
                    else:
                        self._passed_on(item.route, item.target, answered)
                        later[index] = asyncio.ensure_future(
                            self._carry_on(item.message, item.attempt, answered[0])
                        )
                        results.append(None)
                else:
                    later[index] = item
                    results.append(None)
            if later:
                settled = await asyncio.gather(*later.values())
                for index, result in zip(later, settled, strict=True):
                    results[index] = result
        except BaseException:
            for item in begun:
                if isinstance(item, asyncio.Future):
                    item.cancel()
            for task in later.values():
                task.cancel()
            raise
        return [result for result in results if result is not None]

    def _begin(self, message: OutboundSMS) -> SendResult | _Submitted | asyncio.Future[SendResult]:
        """Route ``message`` and queue its first submission now when no wait comes
        first; else start its way in a task."""
        if not _RECIPIENT.fullmatch(message.recipient):
            return SendResult(message.reference, SendOutcome.FAILED, error="bad recipient")
        region = self._region(message.recipient) if self._by_country else None
        route = route_for(self.routes, message.recipient, region)
        if route is None:
            return SendResult(message.reference, SendOutcome.FAILED, error="no route")
        attempt = Attempt(route)
        if route.tps > 0 or AFRICAS_TALKING in route.smscs:
            return asyncio.ensure_future(self._carry_on(message, attempt, None))
        chosen = self._next(route, attempt)
        if chosen is None:
            return SendResult(message.reference, SendOutcome.RETRY, error="no target took it")
        target, bind = chosen
        submitted = self._submit_smpp(message, bind)
        if isinstance(submitted, tuple):  # never sent (no bind, too long)
            answered = self._answer(route, target, submitted)
            if attempt.answered(target, answered[1], answered[2]) is Step.DONE:
                return answered[0]
            self._passed_on(route, target, answered)
            return asyncio.ensure_future(self._carry_on(message, attempt, answered[0]))
        assert bind is not None  # else nothing was submitted
        return _Submitted(message, route, attempt, target, bind, submitted)

    def _next(self, route: Route, attempt: Attempt) -> tuple[str, ESMEBind | None] | None:
        """The next target of ``attempt`` (and its bind for an SMSC), counted."""
        up = self._targets_up()
        chosen = attempt.next_target(up.__contains__)
        if chosen is None:
            return None
        target, failover = chosen
        bind: ESMEBind | None = None
        if target != AFRICAS_TALKING:
            bind = self._bind_for(route, target, attempt.tried[:-1])
            if bind is not None and bind.settings.name != target:
                target, failover = bind.settings.name, False  # shared (legacy default)
                attempt.tried[-1] = target
        self._count(route, target, "submitted")
        if failover:
            self._count(route, target, "failover")
        return target, bind

    async def _carry_on(
        self, message: OutboundSMS, attempt: Attempt, last: SendResult | None
    ) -> SendResult:
        """Offer ``message`` to the route's next targets until one answer ends it."""
        route = attempt.route
        while True:
            await self._pace(route)
            chosen = self._next(route, attempt)
            if chosen is None:
                break
            target, bind = chosen
            if target == AFRICAS_TALKING:
                answered = await self._send_at(message)
            else:
                submitted = self._submit_smpp(message, bind)
                if isinstance(submitted, tuple):
                    answered = submitted
                else:
                    assert bind is not None
                    answered = await self._settle(
                        _Submitted(message, route, attempt, target, bind, submitted)
                    )
            answered = self._answer(route, target, answered)
            if attempt.answered(target, answered[1], answered[2]) is Step.DONE:
                return answered[0]
            self._passed_on(route, target, answered)
            last = answered[0]
        if last is not None and last.outcome is SendOutcome.FAILED:
            return last
        return SendResult(message.reference, SendOutcome.RETRY, error="no target took it")

    def _answer(
        self, route: Route, target: str, answered: tuple[SendResult, Answer, str]
    ) -> tuple[SendResult, Answer, str]:
        result, answer, error_class = answered
        if answer is Answer.UNKNOWN and len(route.smscs) == 1:
            # No other target could send it twice: as before routes, it is sent again
            # on the same SMSC later (at-least-once, at most a window).
            answer = Answer.RETRY
            result = replace(result, outcome=SendOutcome.RETRY)
        self._count(route, target, _KIND[answer])
        return result, answer, error_class

    def _passed_on(
        self, route: Route, target: str, answered: tuple[SendResult, Answer, str]
    ) -> None:
        self._count(route, target, "failed_over")
        log.info(
            "route_failover",
            route=route.name,
            target=target,
            reason=answered[2] or answered[1].value,
        )

    def _bind_for(self, route: Route, target: str, tried: Sequence[str]) -> ESMEBind | None:
        # SMSCs of a shared route (legacy: those that name no prefix) share the traffic:
        # the least-loaded bind, bound ones first (a down SMSC gets nothing new while
        # one is up). Otherwise the least-loaded bind of the chosen SMSC.
        names = {n for n in route.smscs if n not in tried} if route.balance else {target}
        binds = [b for b in self.binds if b.can_transmit and b.settings.name in names]
        if not binds:
            return None
        return min(binds, key=lambda b: (not b.is_bound, b.load))

    async def _pace(self, route: Route) -> None:
        wait = self._pacing.reserve(route, self._loop_time())
        if wait > 0:
            await asyncio.sleep(wait)

    def _submit_smpp(
        self, message: OutboundSMS, bind: ESMEBind | None
    ) -> list[asyncio.Future[PartResult]] | tuple[SendResult, Answer, str]:
        """Queue every part of ``message`` on ``bind``: their futures, or the answer
        when nothing could be queued."""
        if bind is None:
            no_bind = SendResult(message.reference, SendOutcome.RETRY, error="no bind")
            return no_bind, Answer.NOT_SENT, ""
        try:
            parts = plan(
                message.text, SplitMode(bind.settings.split_mode), next(self._references) & 0xFF
            )
        except SegmentationError:
            too_long = SendResult(message.reference, SendOutcome.FAILED, error="too long")
            return too_long, Answer.REFUSED, "too long"
        request = message.request_receipt and bind.settings.request_dlr
        return [
            bind.submit(_submit_sm(bind, message, part, request), urgent=message.urgent)
            for part in parts
        ]

    async def _settle(self, sent: _Submitted) -> tuple[SendResult, Answer, str]:
        """What the SMSC made of every part of a submitted message."""
        message, bind = sent.message, sent.bind
        done = [await future for future in sent.futures]
        accepted = any(p.outcome is SendOutcome.ACCEPTED for p in done)
        if any(p.status == UNCERTAIN for p in done):
            # Written to a link that died before it answered: the SMSC may have it.
            unknown = SendResult(
                message.reference,
                SendOutcome.UNKNOWN,
                error=f"{bind.settings.name}: sent, no answer (link lost)",
            )
            return unknown, Answer.UNKNOWN, ""
        result = self._result(message, bind, done)
        if result.outcome is SendOutcome.ACCEPTED:
            return result, Answer.ACCEPTED, ""
        if result.outcome is SendOutcome.FAILED:
            failed = next(p for p in done if p.outcome is SendOutcome.FAILED)
            # A message some part of which the SMSC took is final there.
            return result, Answer.REFUSED, "" if accepted else status_name(failed.status)
        if not accepted and all(
            p.status == NO_LINK for p in done if p.outcome is not SendOutcome.ACCEPTED
        ):
            return result, Answer.NOT_SENT, ""
        return result, Answer.RETRY, ""

    async def _send_at(self, message: OutboundSMS) -> tuple[SendResult, Answer, str]:
        """One message through Africa's Talking; messages that reach it in the same
        turn of the loop go in one request (AT's bulk mode)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[SendResult] = loop.create_future()
        self._at_waiting.append((message, future))
        if len(self._at_waiting) == 1:
            loop.call_soon(self._flush_at)
        result = await future
        result = replace(result, channel=AT_CHANNEL)
        if result.outcome is SendOutcome.ACCEPTED:
            self._at_down_until = 0.0
            return result, Answer.ACCEPTED, ""
        if result.outcome is SendOutcome.OPTED_OUT:
            return result, Answer.OPTED_OUT, ""
        if result.outcome is SendOutcome.FAILED:
            return result, Answer.REFUSED, result.error
        if result.error in AT_NOT_SENT:
            self._at_down_until = self._loop_time() + AT_DOWN_SECONDS
            return result, Answer.NOT_SENT, ""
        if result.error in AT_NO_ANSWER:
            # The request may have reached AT: never re-routed, the row says unknown.
            self._at_down_until = self._loop_time() + AT_DOWN_SECONDS
            unknown = replace(
                result, outcome=SendOutcome.UNKNOWN, error="africastalking: no answer"
            )
            return unknown, Answer.UNKNOWN, ""
        return result, Answer.RETRY, ""

    def _flush_at(self) -> None:
        waiting, self._at_waiting = self._at_waiting, []
        task = asyncio.get_running_loop().create_task(self._post_at(waiting))
        self._at_tasks.add(task)
        task.add_done_callback(self._at_tasks.discard)

    async def _post_at(self, waiting: list[tuple[OutboundSMS, asyncio.Future[SendResult]]]) -> None:
        assert self.africastalking is not None
        messages = [message for message, _ in waiting]
        try:
            results = await self.africastalking.send(messages)
        except Exception as exc:  # a channel bug must not strand the messages
            log.error("route_at_failed", error=type(exc).__name__, count=len(messages))
            results = [
                SendResult(m.reference, SendOutcome.RETRY, error="send raised") for m in messages
            ]
        for (_, future), result in zip(waiting, results, strict=True):
            if not future.done():
                future.set_result(result)

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


@dataclass
class _Submitted:
    """A message whose parts are queued on an SMSC's bind, answers to come."""

    message: OutboundSMS
    route: Route
    attempt: Attempt
    target: str
    bind: ESMEBind
    futures: list[asyncio.Future[PartResult]]


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
    source, ton, npi = _source(message.sender, bind.settings.source_addr)
    return SubmitSM(
        source_addr=source,
        source_addr_ton=ton,
        source_addr_npi=npi,
        destination_addr=message.recipient.removeprefix("+"),
        dest_addr_ton=1 if message.recipient.startswith("+") else 0,
        esm_class=part.esm_class,
        registered_delivery=1 if receipt else 0,
        validity_period=_validity(bind, message),
        data_coding=part.data_coding,
        short_message=part.short_message,
        tlvs=tlvs,
    )


def _validity(bind: ESMEBind, message: OutboundSMS) -> str:
    """The submit's validity_period: the message's own end (an alert's expiry) unless
    this SMSC is set not to get one; "" leaves it to the SMSC's default."""
    if message.valid_until is None or not bind.settings.send_validity:
        return ""
    return absolute_time(message.valid_until)


def _source_ton(source: str) -> int:
    """5 (alphanumeric) for a sender name like "InfoLine", else 0 (unknown)."""
    return 5 if source and not source.lstrip("+").isdigit() else 0


def _source(sender: str, configured: str) -> tuple[str, int, int]:
    """source_addr, its TON and NPI: the message's own sender (a service's SMS number:
    ``+254711082001`` goes out as ``254711082001``, international, E.164; a short code
    as it is) or, when it has none, the SMSC's configured ``source_addr`` as before."""
    if not sender:
        return configured, _source_ton(configured), 0
    if sender.startswith("+") and sender[1:].isdigit():
        return sender[1:], 1, 1
    return sender, _source_ton(sender), 0
