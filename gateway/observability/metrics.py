"""Prometheus metrics and the three operational endpoints: ``/metrics``, ``/healthz``, ``/readyz``.

:class:`Metrics` owns its own :class:`~prometheus_client.CollectorRegistry`, never the
process-wide default one, so several apps (or several tests) in one process do not
collide. The app factory makes one ``Metrics`` and hands it to whatever records:
the USSD endpoint, the SMPP pool, the broadcast worker, the Redis and store adapters.

Labels carry no phone number and no session id: only channel names, SMSC names, bind
numbers, status names and broadcast ids, all of bounded cardinality (a finished
broadcast's series are removed with :meth:`Metrics.forget_broadcast`).

The metric names are listed in ``deploy/OPERATIONS.md``; ``tests/prod`` checks that the
list there and the metrics here agree.

``/healthz`` answers 200 whenever the event loop runs (liveness: restart me if not).
``/readyz`` runs small named probes (:class:`ReadinessCheck`) concurrently, each under
a deadline, and answers 200 only if all pass (readiness: send me traffic), else 503,
with a JSON body naming each probe's result and no further detail.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left
from collections.abc import Awaitable, Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import structlog
from aiohttp import web
from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4

from gateway.privacy.phone_numbers import REJECTIONS

# The classic text format: every Prometheus 2.x server parses it, and our names need
# nothing newer.
EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4

log = structlog.get_logger(__name__)

NAMESPACE = "gateway"

# USSD answers must come back within the aggregator's timeout (seconds), so the buckets
# are dense below one second.
USSD_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0)


class Metrics:
    """Every metric of one gateway process, in a registry of its own."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        self._refreshers: list[Callable[[], None]] = []
        self._async_refreshers: list[Callable[[], Awaitable[None]]] = []
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        # The USSD series' plain counts (see ``ussd_request``): by the helpers' own
        # arguments, by series, and each with its prometheus-client child.
        self._request_slots: dict[tuple[str, str, str], tuple[list[int], list[float]]] = {}
        self._started_slots: dict[tuple[str, str], list[int]] = {}
        self._ended_slots: dict[tuple[str, str], list[int]] = {}
        self._tallies: dict[tuple[int, tuple[str, ...]], list[int]] = {}
        self._counter_children: list[tuple[Any, list[int]]] = []
        self._latency: dict[str, list[float]] = {}  # by channel: sum, then each bucket
        self._latency_children: list[tuple[Any, list[float]]] = []
        self._latency_bounds = (*USSD_LATENCY_BUCKETS, float("inf"))
        r = self.registry
        ns = NAMESPACE
        self.ussd_requests = Counter(
            "ussd_requests",
            "USSD requests answered, by channel and outcome (continue, end, error = the "
            "polite 'service busy' screen shown because a dependency failed, or the "
            "'unavailable' screen of a service that is down), and service (tree id).",
            ["channel", "outcome", "service"],
            namespace=ns,
            registry=r,
        )
        self.ussd_latency = Histogram(
            "ussd_request_duration_seconds",
            "Time to answer one USSD request, by channel.",
            ["channel"],
            namespace=ns,
            registry=r,
            buckets=USSD_LATENCY_BUCKETS,
        )
        self.sessions_started = Counter(
            "ussd_sessions_started",
            "USSD sessions started, by channel and service.",
            ["channel", "service"],
            namespace=ns,
            registry=r,
        )
        self.sessions_ended = Counter(
            "ussd_sessions_ended",
            "USSD sessions closed by a final screen, by channel and service.",
            ["channel", "service"],
            namespace=ns,
            registry=r,
        )
        self.sessions_dropped = Counter(
            "ussd_sessions_dropped",
            "USSD sessions lost before a final screen (timeout, user abort, store error), "
            "by service.",
            ["channel", "reason", "service"],
            namespace=ns,
            registry=r,
        )
        self.service_up = Gauge(
            "service_up",
            "1 while a service (a tree in menus/) is served, 0 while it is down (its file "
            "did not validate at start-up).",
            ["service"],
            namespace=ns,
            registry=r,
        )
        self.subscribers = Gauge(
            "subscribers",
            "People subscribed to at least one topic, by service (read from the store at "
            "each scrape).",
            ["service"],
            namespace=ns,
            registry=r,
        )
        # The service label's values: the configured tree ids only (bounded cardinality);
        # anything else is counted under the first, the default.
        self.service_ids: tuple[str, ...] = ("default",)
        self.smpp_link_up = Gauge(
            "smpp_link_up",
            "1 while an SMPP bind is bound, else 0; by SMSC name and bind number.",
            ["smsc", "bind"],
            namespace=ns,
            registry=r,
        )
        self.smpp_window_in_use = Gauge(
            "smpp_window_in_use",
            "submit_sm PDUs awaiting their response on one bind.",
            ["smsc", "bind"],
            namespace=ns,
            registry=r,
        )
        self.smpp_submits = Counter(
            "smpp_submits",
            "submit_sm PDUs sent, by SMSC.",
            ["smsc"],
            namespace=ns,
            registry=r,
        )
        self.smpp_responses = Counter(
            "smpp_submit_responses",
            "submit_sm_resp received, by SMSC and command status name (ESME_ROK, ...).",
            ["smsc", "status"],
            namespace=ns,
            registry=r,
        )
        self.smpp_throttles = Counter(
            "smpp_throttles",
            "Throttling events, by SMSC and source (smsc = ESME_RTHROTTLED, budget = "
            "the shared TPS budget made a sender wait, late_slot = a slot dropped because "
            "its sender woke too late).",
            ["smsc", "source"],
            namespace=ns,
            registry=r,
        )
        self.smpp_receipts_held = Gauge(
            "smpp_receipts_held",
            "Receipts held because they could belong to two live messages, by SMSC.",
            ["smsc"],
            namespace=ns,
            registry=r,
        )
        self.smpp_receipt_matching = Counter(
            "smpp_receipt_matching",
            "Receipts by how they were tied to a message, by SMSC: matched, passed_on "
            "(no live message), ambiguous (held), resolved (held, then applied), dropped, "
            "superseded (a restarted counter reused a live id), unreadable, restored "
            "(held before a restart, brought back from the store).",
            ["smsc", "outcome"],
            namespace=ns,
            registry=r,
        )
        self.smpp_protocol_events = Counter(
            "smpp_protocol_events",
            "SMPP peer faults survived, by SMSC and kind: stray_responses (answers to "
            "nothing we sent, discarded), invalid_pdus (answered with an error), "
            "framing_errors (generic_nack, then reconnect), bad_concatenation.",
            ["smsc", "kind"],
            namespace=ns,
            registry=r,
        )
        self.route_up = Gauge(
            "route_up",
            "1 while some target of a route (GATEWAY_ROUTES, or the SMSCs' own prefixes) "
            "can take messages.",
            ["route"],
            namespace=ns,
            registry=r,
        )
        self.route_target_up = Gauge(
            "route_target_up",
            "1 while a route's target (an SMSC with a bound transmitter, or Africa's "
            "Talking) is up.",
            ["route", "target"],
            namespace=ns,
            registry=r,
        )
        self.route_current_target = Gauge(
            "route_current_target",
            "1 for the target of a route that takes new messages now, 0 for the others.",
            ["route", "target"],
            namespace=ns,
            registry=r,
        )
        self.route_messages = Counter(
            "route_messages",
            "Messages a route handed to a target, by route, target and kind: submitted "
            "(all), failover (because a target before it was down or refused it), "
            "accepted, refused (a final error), failed_over (refused or down, then passed "
            "to the next target), unknown (sent, never answered), retry, opted_out.",
            ["route", "target", "kind"],
            namespace=ns,
            registry=r,
        )
        self.tps_wait = Counter(
            "tps_budget_wait_seconds",
            "Seconds senders spent waiting for the shared TPS budget, by SMSC.",
            ["smsc"],
            namespace=ns,
            registry=r,
        )
        self.delivery_reports = Counter(
            "delivery_reports",
            "Delivery reports received, by channel and delivery state.",
            ["channel", "state"],
            namespace=ns,
            registry=r,
        )
        self.broadcast_messages = Gauge(
            "broadcast_messages",
            "Outbox rows of a broadcast, by broadcast id and state.",
            ["broadcast", "state"],
            namespace=ns,
            registry=r,
        )
        self.redis_errors = Counter(
            "redis_errors",
            "Redis operations that failed, by operation.",
            ["operation"],
            namespace=ns,
            registry=r,
        )
        self.db_errors = Counter(
            "db_errors",
            "Store operations that failed, by operation.",
            ["operation"],
            namespace=ns,
            registry=r,
        )
        self.invalid_numbers = Counter(
            "invalid_numbers",
            "Phone numbers refused where they entered (not readable as E.164), by channel.",
            ["channel"],
            namespace=ns,
            registry=r,
        )
        self.replies_unsent = Counter(
            "sms_replies_unsent",
            "SMS replies to keywords that were due but not sent, by reason.",
            ["reason"],
            namespace=ns,
            registry=r,
        )
        self.add_refresher(self._publish_ussd)
        self.follow_tally(self.invalid_numbers, lambda: REJECTIONS.by_channel)
        self.readiness = Gauge(
            "ready",
            "Result of the last /readyz probe, 1 passed or 0 failed, by check name.",
            ["check"],
            namespace=ns,
            registry=r,
        )

    # Recording helpers: one call per event, so callers need not know label names.

    def _child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, looked up once: the USSD helpers run on every
        request, and prometheus-client's ``labels()`` validates its arguments each time."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child

    def service_label(self, service: str) -> str:
        """``service`` if it is a configured service, else the default's id."""
        return service if service in self.service_ids else self.service_ids[0]

    # The USSD helpers run on every request: they count in plain numbers (one event
    # loop records, so no lock is needed), which :meth:`_publish_ussd` copies into the
    # prometheus-client series at each scrape. The series' children are made on a
    # label set's first event, as ``labels()`` would make them, so the exposition
    # (values, ``_created`` times, order) is the one the series would give if fed
    # directly; tests/prod/test_metrics.py proves it. Record these series only through
    # the helpers: a scrape overwrites them with the tallies.

    def ussd_request(self, channel: str, outcome: str, seconds: float, service: str = "") -> None:
        slot = self._request_slots.get((channel, outcome, service))
        if slot is None:
            slot = self._request_slot(channel, outcome, service)
        slot[0][0] += 1
        latency = slot[1]
        latency[0] += seconds
        if seconds == seconds:  # a NaN goes in the sum and no bucket, as observe() does
            latency[1 + bisect_left(self._latency_bounds, seconds)] += 1

    def session_started(self, channel: str, service: str = "") -> None:
        count = self._started_slots.get((channel, service))
        if count is None:
            count = self._started_slots[(channel, service)] = self._tally(
                self.sessions_started, channel, self.service_label(service)
            )
        count[0] += 1

    def session_ended(self, channel: str, service: str = "") -> None:
        count = self._ended_slots.get((channel, service))
        if count is None:
            count = self._ended_slots[(channel, service)] = self._tally(
                self.sessions_ended, channel, self.service_label(service)
            )
        count[0] += 1

    def _request_slot(
        self, channel: str, outcome: str, service: str
    ) -> tuple[list[int], list[float]]:
        requests = self._tally(self.ussd_requests, channel, outcome, self.service_label(service))
        latency = self._latency.get(channel)
        if latency is None:
            child = self._child(self.ussd_latency, channel)
            latency = self._latency[channel] = [0.0] * (1 + len(self._latency_bounds))
            self._latency_children.append((child, latency))
        slot = self._request_slots[(channel, outcome, service)] = (requests, latency)
        return slot

    def _tally(self, metric: Any, *labels: str) -> list[int]:
        """The plain count behind one counter series (made with its child)."""
        key = (id(metric), labels)
        count = self._tallies.get(key)
        if count is None:
            count = self._tallies[key] = [0]
            self._counter_children.append((self._child(metric, *labels), count))
        return count

    def _publish_ussd(self) -> None:
        for child, count in self._counter_children:
            child._value.set(float(count[0]))
        for child, latency in self._latency_children:
            child._sum.set(latency[0])
            for bucket, observed in zip(child._buckets, latency[1:], strict=True):
                bucket.set(float(observed))

    def session_dropped(self, channel: str, reason: str, service: str = "") -> None:
        self.sessions_dropped.labels(
            channel=channel, reason=reason, service=self.service_label(service)
        ).inc()

    def follow_services(
        self,
        service_ids: Sequence[str],
        down: Callable[[], Collection[str]],
        subscriber_counts: Callable[[], Awaitable[Mapping[str, int]]],
        key_of: Callable[[str], str],
    ) -> None:
        """The configured services (the default first) become the ``service`` label's
        only values; at each scrape, each one's up/down state and subscriber count."""
        self.service_ids = tuple(service_ids) or ("default",)
        # The label a helper's ``service`` maps to may have changed: map again.
        self._request_slots.clear()
        self._started_slots.clear()
        self._ended_slots.clear()
        for service in self.service_ids:
            self.service_up.labels(service=service).set(1)
            self.subscribers.labels(service=service).set(0)

        def refresh_up() -> None:
            gone = set(down())
            for service in self.service_ids:
                self.service_up.labels(service=service).set(0 if service in gone else 1)

        async def refresh_subscribers() -> None:
            try:
                counts = await subscriber_counts()
            except Exception as exc:
                self.db_error("subscriber_metrics")
                log.warning("metrics_subscribers_failed", error=type(exc).__name__)
                return
            for service in self.service_ids:
                self.subscribers.labels(service=service).set(counts.get(key_of(service), 0))

        self.add_refresher(refresh_up)
        self.add_async_refresher(refresh_subscribers)

    def link_state(self, smsc: str, bind: int, up: bool) -> None:
        self.smpp_link_up.labels(smsc=smsc, bind=str(bind)).set(1 if up else 0)

    def window_in_use(self, smsc: str, bind: int, outstanding: int) -> None:
        self.smpp_window_in_use.labels(smsc=smsc, bind=str(bind)).set(outstanding)

    def submitted(self, smsc: str, count: int = 1) -> None:
        self.smpp_submits.labels(smsc=smsc).inc(count)

    def throttled(self, smsc: str, source: str = "smsc") -> None:
        self.smpp_throttles.labels(smsc=smsc, source=source).inc()

    def waited_for_budget(self, smsc: str, seconds: float) -> None:
        if seconds > 0:
            self.tps_wait.labels(smsc=smsc).inc(seconds)
            self.throttled(smsc, source="budget")

    def delivery_report(self, channel: str, state: str) -> None:
        self.delivery_reports.labels(channel=channel, state=state).inc()

    def broadcast_progress(self, broadcast: str, counts: dict[str, int]) -> None:
        """Set a broadcast's row counts by state; states not given are left as they were."""
        for state, count in counts.items():
            self.broadcast_messages.labels(broadcast=broadcast, state=state).set(count)

    def forget_broadcast(self, broadcast: str) -> None:
        """Drop a finished broadcast's series so label cardinality stays bounded."""
        for state in self._broadcast_states(broadcast):
            self.broadcast_messages.remove(broadcast, state)

    def redis_error(self, operation: str) -> None:
        self.redis_errors.labels(operation=operation).inc()

    def db_error(self, operation: str) -> None:
        self.db_errors.labels(operation=operation).inc()

    def add_refresher(self, refresh: Callable[[], None]) -> None:
        """Run ``refresh`` before each exposition (gauges read from live objects)."""
        self._refreshers.append(refresh)

    def add_async_refresher(self, refresh: Callable[[], Awaitable[None]]) -> None:
        """Await ``refresh`` before each exposition (values read from the store, probes)."""
        self._async_refreshers.append(refresh)

    def follow_tally(self, counter: Any, tally: Callable[[], Mapping[str, int]]) -> None:
        """Feed ``counter`` (one label) from a live tally of cumulative counts, read at
        each scrape; counts made before this call belong to no one here."""
        seen = dict(tally())

        def refresh() -> None:
            for label, total in list(tally().items()):
                before = seen.get(label, 0)
                seen[label] = total
                if total > before:
                    self._child(counter, label).inc(total - before)

        self.add_refresher(refresh)

    def follow_smpp_status(self, status: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        """Keep the link and window gauges in step with ``SMPPPool.status()`` entries
        (keys ``smsc``, ``bind``, ``bound``, ``in_flight``), read at each scrape."""

        seen: dict[tuple[str, int, str], int] = {}

        def grown(smsc: str, bind: int, key: str, total: int) -> int:
            """How much a cumulative count grew since the last scrape (a count that went
            down was reset, so all of it is new)."""
            before = seen.get((smsc, bind, key), 0)
            seen[(smsc, bind, key)] = total
            return total - before if total >= before else total

        def refresh() -> None:
            for entry in status():
                smsc, bind = str(entry["smsc"]), int(entry["bind"])
                self.link_state(smsc, bind, up=bool(entry.get("bound")))
                self.window_in_use(smsc, bind, int(entry.get("in_flight", 0)))
                if "submitted" in entry:
                    more = grown(smsc, bind, "submitted", int(entry["submitted"]))
                    if more:
                        self.submitted(smsc, more)
                if "throttled" in entry:
                    more = grown(smsc, bind, "throttled", int(entry["throttled"]))
                    if more:
                        self.smpp_throttles.labels(smsc=smsc, source="smsc").inc(more)
                for code, total in dict(entry.get("responses") or {}).items():
                    more = grown(smsc, bind, f"response:{code}", int(total))
                    if more:
                        self.smpp_responses.labels(smsc=smsc, status=str(code)).inc(more)
                for kind in ("stray_responses", "invalid_pdus", "framing_errors"):
                    if kind in entry:
                        more = grown(smsc, bind, kind, int(entry[kind]))
                        if more:
                            self.smpp_protocol_events.labels(smsc=smsc, kind=kind).inc(more)

        self.add_refresher(refresh)

    def follow_smpp_receipts(self, status: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        """Keep the receipt matching series in step with ``SMPPPool.receipt_status()``."""
        seen: dict[tuple[str, str], int] = {}
        outcomes = (
            "matched",
            "passed_on",
            "ambiguous",
            "resolved",
            "dropped",
            "superseded",
            "unreadable",
            "restored",
        )

        def refresh() -> None:
            for entry in status():
                smsc = str(entry["smsc"])
                self.smpp_receipts_held.labels(smsc=smsc).set(int(entry.get("held", 0)))
                total = int(entry.get("bad_concatenation", 0))
                before = seen.get((smsc, "bad_concatenation"), 0)
                seen[(smsc, "bad_concatenation")] = total
                if total > before:
                    self.smpp_protocol_events.labels(smsc=smsc, kind="bad_concatenation").inc(
                        total - before
                    )
                for outcome in outcomes:
                    total = int(entry.get(outcome, 0))
                    before = seen.get((smsc, outcome), 0)
                    seen[(smsc, outcome)] = total
                    more = total - before if total >= before else total
                    if more:
                        self.smpp_receipt_matching.labels(smsc=smsc, outcome=outcome).inc(more)

        self.add_refresher(refresh)

    def follow_smpp_routes(self, status: Callable[[], Iterable[Mapping[str, Any]]]) -> None:
        """Keep the route series in step with ``SMPPPool.route_status()``."""
        seen: dict[tuple[str, str, str], int] = {}

        def refresh() -> None:
            for entry in status():
                route = str(entry["route"])
                self.route_up.labels(route=route).set(1 if entry["state"] == "up" else 0)
                for target in entry["targets"]:
                    name = str(target["target"])
                    self.route_target_up.labels(route=route, target=name).set(
                        1 if target["up"] else 0
                    )
                    self.route_current_target.labels(route=route, target=name).set(
                        1 if name == entry.get("current") else 0
                    )
                    for kind, value in target.items():
                        if kind in ("target", "kind", "up") or not isinstance(value, int):
                            continue
                        key = (route, name, kind)
                        more = value - seen.get(key, 0)
                        seen[key] = value
                        if more > 0:
                            self.route_messages.labels(route=route, target=name, kind=kind).inc(
                                more
                            )

        self.add_refresher(refresh)

    def follow_broadcasts(self, store: Any, states: Sequence[str] = ("sending",)) -> None:
        """At each scrape, set the row counts of every broadcast in ``states`` from the
        store (``list_broadcasts`` and ``outbox_counts`` of the store port), and drop the
        series of broadcasts that left them. A failing store is counted, not raised."""
        shown: set[str] = set()

        async def refresh() -> None:
            try:
                current = await store.list_broadcasts(states=list(states))
                counts = {str(b.id): await store.outbox_counts(b.id) for b in current}
            except Exception as exc:
                self.db_error("broadcast_metrics")
                log.warning("metrics_broadcasts_failed", error=type(exc).__name__)
                return
            for broadcast, outbox in counts.items():
                by_state = dict(outbox.counts)
                by_state["pending"] = outbox.pending  # queued + claimed: what the alert watches
                for state in self._broadcast_states(broadcast):
                    by_state.setdefault(state, 0)  # a state whose rows all moved on
                self.broadcast_progress(broadcast, by_state)
            for gone in shown - set(counts):
                self.forget_broadcast(gone)
            shown.clear()
            shown.update(counts)

        self.add_async_refresher(refresh)

    async def refresh(self) -> None:
        """Run the asynchronous refreshers (the /metrics handler calls this first)."""
        for refresh in self._async_refreshers:
            await refresh()

    def exposition(self) -> bytes:
        """The registry in Prometheus text format."""
        for refresh in self._refreshers:
            try:
                refresh()
            except Exception as exc:  # a broken source must not take /metrics down
                log.warning("metrics_refresh_failed", error=type(exc).__name__)
        return generate_latest(self.registry)

    def names(self) -> list[str]:
        """Every metric name as queried in PromQL (counters with their ``_total``)."""
        return sorted(
            metric.name + ("_total" if metric.type == "counter" else "")
            for collector in self._collectors()
            for metric in collector.describe()
        )

    def _collectors(self) -> Iterable[Any]:
        return (value for value in vars(self).values() if hasattr(value, "describe"))

    def _broadcast_states(self, broadcast: str) -> list[str]:
        found: list[str] = []
        for family in self.broadcast_messages.collect():
            for sample in family.samples:
                if sample.labels.get("broadcast") == broadcast:
                    found.append(sample.labels["state"])
        return found


# --- HTTP handlers --------------------------------------------------------------------

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Probe = Callable[[], Awaitable[bool]]

DEFAULT_CHECK_TIMEOUT = 2.0


@dataclass(frozen=True)
class ReadinessCheck:
    """A named probe: ``await probe()`` is True when that dependency is usable."""

    name: str
    probe: Probe
    timeout: float = DEFAULT_CHECK_TIMEOUT


def metrics_handler(metrics: Metrics) -> Handler:
    async def handle_metrics(request: web.Request) -> web.Response:
        await metrics.refresh()
        return web.Response(
            body=metrics.exposition(), headers={"Content-Type": EXPOSITION_CONTENT_TYPE}
        )

    return handle_metrics


def healthz_handler() -> Handler:
    async def handle_healthz(request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    return handle_healthz


async def run_checks(checks: Sequence[ReadinessCheck]) -> dict[str, bool]:
    """Run every probe concurrently; a probe that raises or overruns counts as failed."""
    results = await asyncio.gather(*(_run_one(check) for check in checks))
    return {check.name: passed for check, passed in zip(checks, results, strict=True)}


async def _run_one(check: ReadinessCheck) -> bool:
    try:
        async with asyncio.timeout(check.timeout):
            return bool(await check.probe())
    except TimeoutError:
        log.warning("readiness_check_timed_out", check=check.name, timeout=check.timeout)
    except Exception as exc:
        # The exception type only: a message may carry a DSN with a password in it.
        log.warning("readiness_check_failed", check=check.name, error=type(exc).__name__)
    return False


def readyz_handler(checks: Sequence[ReadinessCheck], metrics: Metrics | None = None) -> Handler:
    names = [check.name for check in checks]
    if len(set(names)) != len(names):
        raise ValueError(f"readiness check names must be unique: {names}")

    async def handle_readyz(request: web.Request) -> web.Response:
        results = await run_checks(checks)
        if metrics is not None:
            for name, passed in results.items():
                metrics.readiness.labels(check=name).set(1 if passed else 0)
        ready = all(results.values())
        body = {"ready": ready, "checks": {n: "ok" if p else "failed" for n, p in results.items()}}
        return web.json_response(body, status=200 if ready else 503)

    return handle_readyz


def ops_routes(metrics: Metrics, checks: Sequence[ReadinessCheck]) -> list[web.RouteDef]:
    """The three routes, ready for ``app.add_routes``. Each scrape of ``/metrics`` also
    runs the readiness probes, so ``gateway_ready`` has data whether or not a load
    balancer calls ``/readyz``."""

    async def refresh_readiness() -> None:
        for name, passed in (await run_checks(checks)).items():
            metrics.readiness.labels(check=name).set(1 if passed else 0)

    metrics.add_async_refresher(refresh_readiness)
    return [
        web.get("/metrics", metrics_handler(metrics)),
        web.get("/healthz", healthz_handler()),
        web.get("/readyz", readyz_handler(checks, metrics)),
    ]


async def serve_ops(
    metrics: Metrics, checks: Sequence[ReadinessCheck], host: str, port: int
) -> web.AppRunner:
    """Serve only ``/metrics``, ``/healthz`` and ``/readyz`` (for a process without its own
    HTTP app, such as the broadcast worker); ``await runner.cleanup()`` stops it."""
    app = web.Application()
    app.add_routes(ops_routes(metrics, checks))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner


# --- Ready-made probes ------------------------------------------------------------------


class _Pingable(Protocol):
    async def ping(self) -> Any: ...


def redis_check(client: _Pingable, name: str = "redis") -> ReadinessCheck:
    """Ready when Redis answers PING."""

    async def probe() -> bool:
        return bool(await client.ping())

    return ReadinessCheck(name, probe)


def flag_check(name: str, is_set: Callable[[], bool]) -> ReadinessCheck:
    """Ready when a synchronous condition holds (menus loaded, not shutting down, ...)."""

    async def probe() -> bool:
        return is_set()

    return ReadinessCheck(name, probe)


def smpp_check(
    status: Callable[[], Iterable[Mapping[str, Any]]], name: str = "smpp"
) -> ReadinessCheck:
    """Ready when at least one bind of ``SMPPPool.status()`` reports ``bound``."""

    async def probe() -> bool:
        return any(entry.get("bound") for entry in status())

    return ReadinessCheck(name, probe)


def callable_check(
    name: str, probe: Probe, timeout: float = DEFAULT_CHECK_TIMEOUT
) -> ReadinessCheck:
    return ReadinessCheck(name, probe, timeout)
