"""Operator commands for alerts and the sender worker.

``gateway alert create|approve|send|pause|cancel|status|list``, ``gateway broadcast run``,
``gateway retention run`` and ``gateway audit verify``. Each is a thin shell over
:mod:`gateway.broadcast.alert_service` (the console calls the same functions); output is
aggregate counts only.

The alert commands act on one service (``--service ID``, default: the default
service), as the console acts on the chosen one: an alert is created for it, ``list``
shows its alerts only, the acting account's role on it is checked, and an alert of
another service is refused with a sentence naming its service.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from gateway.broadcast.alert_service import AlertDraft, AlertService, AlertStatus
from gateway.broadcast.errors import BroadcastError
from gateway.broadcast.text import sensitive_opening
from gateway.cli.acting_account import AccountRefused, act_as, add_account_arguments
from gateway.cli.service_option import (
    ChosenService,
    UnknownService,
    add_service_argument,
    chosen_service,
    service_keys,
)
from gateway.cli.store_command import run_with_store
from gateway.console import publishing
from gateway.console.content_source import ContentSource
from gateway.console.roles import Permission
from gateway.menu.loader import TreeError
from gateway.observability.logs import configure as configure_logging
from gateway.server.runtime import WorkerTuning
from gateway.server.sms_channel import ChannelUnavailable, channel_family
from gateway.server.worker_process import run_worker_process
from gateway.settings import Settings
from gateway.sms.keywords import CatalogError, load_catalog
from gateway.store.audit_anchor import AuditAnchor
from gateway.store.audit_chain import describe
from gateway.store.port import Store, StoreError
from gateway.store.records import ChainCheck

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhd])$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    alert = subparsers.add_parser("alert", help="create, approve and send alerts")
    actions = alert.add_subparsers(dest="alert_command", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="draft an alert")
    create.add_argument("--text", action="append", required=True, metavar="LANG=TEXT")
    create.add_argument("--fallback", default=None, help="language used when a text is missing")
    create.add_argument("--topic", action="append", required=True)
    create.add_argument("--region", action="append", default=[])
    create.add_argument(
        "--include-unknown-country",
        action="store_true",
        help="with --region: also subscribers whose country is unknown (default: not)",
    )
    create.add_argument("--language", action="append", default=[], help="only these languages")
    create.add_argument("--source", required=True, help="who verified the information")
    add_account_arguments(create)
    add_service_argument(create)
    expiry = create.add_mutually_exclusive_group(required=True)
    expiry.add_argument("--expires-in", help="e.g. 90m, 6h, 2d")
    expiry.add_argument("--expires-at", help="ISO 8601 time with zone, e.g. 2026-12-01T12:00Z")
    create.set_defaults(func=_run(_create))

    for name, helptext in (
        ("send", "start or resume sending"),
        ("pause", "pause sending"),
        ("cancel", "cancel; queued messages are withdrawn"),
    ):
        action = actions.add_parser(name, help=helptext)
        action.add_argument("id", type=int)
        add_account_arguments(action)
        add_service_argument(action)
        action.set_defaults(func=_run(_simple_action(name)))

    approve = actions.add_parser("approve", help="approve (not by the author)")
    approve.add_argument("id", type=int)
    add_account_arguments(approve)
    add_service_argument(approve)
    approve.set_defaults(func=_run(_approve))

    status = actions.add_parser("status", help="counts for one alert")
    status.add_argument("id", type=int)
    status.add_argument("--json", action="store_true")
    add_service_argument(status)
    status.set_defaults(func=_run(_status))

    listing = actions.add_parser("list", help="recent alerts with counts")
    listing.add_argument("--json", action="store_true")
    add_service_argument(listing)
    listing.set_defaults(func=_run(_list))

    broadcast = subparsers.add_parser("broadcast", help="the broadcast sender worker")
    worker = broadcast.add_subparsers(dest="broadcast_command", required=True, metavar="ACTION")
    run = worker.add_parser("run", help="send alerts that are in state sending")
    run.add_argument("--until-idle", action="store_true", help="exit when nothing is sending")
    run.add_argument(
        "--tps",
        type=float,
        default=None,
        help="at most this rate (default: the SMSC grants; GATEWAY_BROADCAST_TPS for AT)",
    )
    run.add_argument("--batch-size", type=int, default=100)
    run.add_argument("--concurrency", type=int, default=4)
    run.add_argument("--lease", type=float, default=60.0, help="seconds a claim is held")
    run.set_defaults(func=_broadcast_run)

    retention = subparsers.add_parser("retention", help="delete data past its retention")
    retention_actions = retention.add_subparsers(dest="retention_command", required=True)
    purge = retention_actions.add_parser("run", help="purge old receipts and opt-outs now")
    purge.set_defaults(func=_run(_retention_run))

    audit = subparsers.add_parser("audit", help="the hash-chained audit log")
    audit_actions = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_actions.add_parser(
        "verify", help="check the keyed chain against the newest checkpoint of the anchor"
    )
    anchor = verify.add_mutually_exclusive_group()
    anchor.add_argument(
        "--anchor",
        type=Path,
        default=None,
        help="another copy of the checkpoints (default: GATEWAY_AUDIT_ANCHOR), e.g. the "
        "audit.checkpoint log lines' fields, one JSON object a line",
    )
    anchor.add_argument(
        "--no-anchor",
        action="store_true",
        help="the chain alone (rows deleted from the end cannot be seen)",
    )
    verify.set_defaults(func=_run(_audit_verify))


Command = Callable[[argparse.Namespace, Settings, Store], Awaitable[int]]


def _run(command: Command) -> Callable[[argparse.Namespace], int]:
    def entry(args: argparse.Namespace) -> int:
        settings = Settings.from_env()
        configure_logging(settings.log_format, settings.log_level)
        return asyncio.run(_with_store(command, args, settings))

    return entry


async def _with_store(command: Command, args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        return await command(args, settings, store)

    return await run_with_store(settings, work, (BroadcastError, AccountRefused, UnknownService))


class OtherServiceAlert(BroadcastError):
    """The alert belongs to another service than the one the command acts on."""


def _chosen(settings: Settings, args: argparse.Namespace) -> ChosenService:
    return chosen_service(settings, args.service)


async def _own_alert(
    settings: Settings, store: Store, alert_id: int, chosen: ChosenService
) -> None:
    """Refuse an alert of another service than ``chosen``, naming its service."""
    broadcast = await _service(settings, store).get(alert_id)
    owner = broadcast.audience.service
    if owner != chosen.key:
        names = {key: tree_id for tree_id, key in service_keys(settings).items()}
        name = names.get(owner, owner)
        raise OtherServiceAlert(
            f"alert {alert_id} belongs to service {name!r}, not {chosen.id!r}: add --service {name}"
        )


def _service(settings: Settings, store: Store, chosen: ChosenService | None = None) -> AlertService:
    """The alert functions, checking topics against ``chosen``'s (else the default's)."""
    folder = chosen.content if chosen is not None else settings.content
    try:
        topics = [topic.code for topic in load_catalog(folder, fallback=settings.content).topics]
    except CatalogError:
        topics = None
    return AlertService(store, topics)


def parse_texts(items: list[str]) -> dict[str, str]:
    texts: dict[str, str] = {}
    for item in items:
        language, sep, text = item.partition("=")
        if not sep or not language.strip():
            raise BroadcastError(f"--text must be LANG=TEXT, got {item[:20]!r}")
        texts[language.strip()] = text
    return texts


def parse_expiry(expires_in: str | None, expires_at: str | None, now: float) -> float:
    if expires_in is not None:
        match = _DURATION.match(expires_in.strip())
        if match is None:
            raise BroadcastError("--expires-in must look like 90m, 6h or 2d")
        return now + float(match.group(1)) * _UNITS[match.group(2)]
    assert expires_at is not None
    try:
        moment = datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BroadcastError(f"--expires-at is not an ISO 8601 time: {exc}") from exc
    if moment.tzinfo is None:
        raise BroadcastError("--expires-at needs a time zone, e.g. 2026-12-01T12:00Z")
    return moment.timestamp()


async def _create(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    texts = parse_texts(args.text)
    chosen = _chosen(settings, args)
    author = await act_as(store, args, (Permission.EDIT,), "alert create", service=chosen)
    now = time.time()
    draft = AlertDraft(
        texts=texts,
        fallback_language=args.fallback or next(iter(texts)),
        topics=tuple(args.topic),
        regions=tuple(r.strip().upper() for r in args.region)
        + (("",) if args.region and args.include_unknown_country else ()),
        languages=tuple(args.language),
        source=args.source,
        author=author,
        expires_at=parse_expiry(args.expires_in, args.expires_at, now),
        service=chosen.key,
    )
    broadcast_id = await _service(settings, store, chosen).create(draft, now)
    for language, text in texts.items():
        words = sensitive_opening(text)
        if words:
            print(
                f"warning: the {language} text opens with sensitive words ({', '.join(words)}); "
                "a bystander may read them on the lock screen",
                file=sys.stderr,
            )
    print(broadcast_id)
    return 0


def _simple_action(name: str) -> Command:
    async def action(args: argparse.Namespace, settings: Settings, store: Store) -> int:
        # As in the console: sending needs an approver; pausing or cancelling, any
        # account that may draft or approve.
        allowed = (Permission.APPROVE,) if name == "send" else (Permission.EDIT, Permission.APPROVE)
        chosen = _chosen(settings, args)
        operator = await act_as(store, args, allowed, f"alert {name}", service=chosen)
        await _own_alert(settings, store, args.id, chosen)
        service = _service(settings, store)
        method = {"send": service.send, "pause": service.pause, "cancel": service.cancel}[name]
        await method(args.id, operator, time.time())
        print(f"alert {args.id}: {name} ok")
        if name == "send":
            await _warn_of_freshness(args.id, settings, store)
        return 0

    return action


async def _approve(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    chosen = _chosen(settings, args)
    approver = await act_as(store, args, (Permission.APPROVE,), "alert approve", service=chosen)
    await _own_alert(settings, store, args.id, chosen)
    await _service(settings, store).approve(args.id, approver, time.time())
    print(f"alert {args.id}: approved")
    await _warn_of_freshness(args.id, settings, store)
    return 0


async def _warn_of_freshness(alert_id: int, settings: Settings, store: Store) -> None:
    """As the console's alert page does: name each quoted entry that is stale or was
    never verified by an operator, with its age."""
    broadcast = await _service(settings, store).get(alert_id)
    source = ContentSource(store, settings)
    fresh = await publishing.alert_freshness(source, broadcast.texts.values(), time.time())
    if fresh.count:
        print(f"alert {alert_id}: {publishing.warning_of(fresh)}", file=sys.stderr)


def _status_dict(status: AlertStatus) -> dict[str, Any]:
    return {
        "id": status.id,
        "state": status.state,
        "source": status.source,
        "author": status.author,
        "approver": status.approver,
        "expires_at": datetime.fromtimestamp(status.expires_at).astimezone().isoformat(),
        "topics": list(status.topics),
        "languages": list(status.languages),
        "audience": status.audience,
        "counts": dict(status.counts),
    }


def _print_status(status: AlertStatus) -> None:
    counts = " ".join(f"{state}={count}" for state, count in status.counts.items())
    print(
        f"{status.id:>5} {status.state:<9} audience={status.audience} {counts} "
        f"topics={','.join(status.topics)} source={status.source!r}"
    )


async def _status(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    await _own_alert(settings, store, args.id, _chosen(settings, args))
    status = await _service(settings, store).status(args.id)
    if args.json:
        print(json.dumps(_status_dict(status), ensure_ascii=False))
    else:
        _print_status(status)
    return 0


async def _list(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    statuses = await _service(settings, store).list(service=_chosen(settings, args).key)
    if args.json:
        print(json.dumps([_status_dict(s) for s in statuses], ensure_ascii=False))
    else:
        for status in statuses:
            _print_status(status)
    return 0


def _broadcast_run(args: argparse.Namespace) -> int:
    """The worker process (:mod:`gateway.server.worker_process`), built by the same
    runtime as ``serve``: paced at the SMSC grants, USSD answered on its binds."""
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    try:
        channel_family(settings)
    except ChannelUnavailable as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    tuning = WorkerTuning(
        tps_cap=args.tps,
        batch_size=args.batch_size,
        concurrency=args.concurrency,
        lease_seconds=args.lease,
        until_idle=args.until_idle,
    )
    try:
        return asyncio.run(run_worker_process(settings, tuning))
    except (TreeError, StoreError) as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1


async def _retention_run(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    now = time.time()
    result = await store.purge(
        delivery_before=now - settings.retention_delivery_days * 86400,
        optout_before=now - settings.retention_optout_days * 86400,
    )
    print(
        f"deleted outbox_rows={result.outbox_rows} delivery_events={result.delivery_events} "
        f"inbound_messages={result.inbound_messages} subscribers={result.subscribers}"
    )
    return 0


async def _audit_verify(args: argparse.Namespace, settings: Settings, store: Store) -> int:
    if args.no_anchor:
        check = await store.verify_audit_chain()
    else:
        check = await store.verify_audit_log(
            None if args.anchor is None else AuditAnchor(args.anchor)
        )
    if not check.ok:
        print(f"audit log does NOT verify: {check.reason}", file=sys.stderr)
        return 1
    print(f"audit chain ok: {check.checked} rows{_chain_parts(check)}")
    if check.checkpoint is not None:
        print(f"matches {describe(check.checkpoint)}")
    elif not args.no_anchor and check.checked:
        print("no checkpoint to compare with yet (no keyed write since the upgrade)")
    return 0


def _chain_parts(check: ChainCheck) -> str:
    if check.keyed_from is None:
        return ", none keyed yet (written before the audit key; the next write seals them)"
    if check.legacy_rows:
        return (
            f", {check.legacy_rows} unkeyed rows of before the audit key sealed by the "
            f"switch-over row {check.keyed_from}, keyed from there"
        )
    return ", all keyed"
