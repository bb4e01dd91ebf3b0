"""The configured SMS channel, opened and closed as one async context.

``GATEWAY_SMS_CHANNEL``: ``smpp`` uses every bind of ``GATEWAY_SMSC`` (the SMPP pool;
receipts and MO SMS come back to ``sink`` on the same binds); ``africastalking``
speaks AT's HTTP API (receipts come back through the HTTP callbacks, to the server);
``auto`` picks SMPP when SMSCs are configured, else Africa's Talking (with SMSCs,
``GATEWAY_ROUTES`` may still name ``africastalking`` as a route's target: the pool
then sends through AT's API too, and AT's receipts come back through the HTTP
callbacks); ``log`` writes
each message to ``<data folder>/sms-log.jsonl`` (numbers as keyed hashes) and sends
nothing, for demos and tests.

:func:`channel_statuses` says, per channel, whether it can send right now: the console
shows it and refuses to start an alert when none can.

With ``GATEWAY_REDIS_URL`` set, each SMSC with a ``shared_tps`` grant gets one Redis
token bucket shared by every bind of every process that opens the channel (``gateway
serve`` and ``gateway broadcast run`` alike): together they never exceed the grant.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
import structlog

from gateway.africastalking.sms_sender import AfricasTalkingSMS
from gateway.errors import GatewayError
from gateway.pacing.shared_grant import RedisTPSBudget
from gateway.settings import AT_TARGET, Settings
from gateway.smpp.durable_receipts import ReceiptMatchingStore
from gateway.smpp.pool import SMPPPool, receipt_timeouts
from gateway.sms.channel_status import ChannelStatus
from gateway.sms.log_sender import LogSMSSender
from gateway.sms.messages import InboundSink, SMSSender
from gateway.ussd.types import USSDHandler

log = structlog.get_logger(__name__)


class ChannelUnavailable(GatewayError, RuntimeError):
    """No channel is configured to send through."""


def channel_family(settings: Settings) -> str:
    if settings.sms_channel == "none":
        raise ChannelUnavailable("GATEWAY_SMS_CHANNEL is none: no channel to send through")
    if settings.sms_channel == "smpp" or (settings.sms_channel == "auto" and settings.smsc):
        if not settings.smsc:
            raise ChannelUnavailable("GATEWAY_SMS_CHANNEL is smpp but GATEWAY_SMSC is empty")
        return "smpp"
    if settings.sms_channel == "log":
        return "log"
    return "africastalking"


def sms_log_path(settings: Settings) -> Path:
    return settings.data_dir / "sms-log.jsonl"


def channel_statuses(
    settings: Settings, channel: str, binds: Iterable[Mapping[str, Any]] = ()
) -> list[ChannelStatus]:
    """Each channel this process sends through, and whether it can send now. ``binds``
    is the SMPP pool's per-bind status (keys ``smsc``, ``mode``, ``bound``,
    ``last_error``)."""
    if channel == "smpp":
        by_smsc: dict[str, list[Mapping[str, Any]]] = {}
        for bind in binds:
            if bind.get("mode") != "receiver":
                by_smsc.setdefault(str(bind.get("smsc")), []).append(bind)
        statuses = []
        for name, entries in by_smsc.items():
            bound = sum(1 for entry in entries if entry.get("bound"))
            if bound:
                detail = f"{bound} of {len(entries)} transmitting binds bound"
            else:
                errors = [str(e.get("last_error")) for e in entries if e.get("last_error")]
                detail = errors[0] if errors else "not bound yet"
            statuses.append(
                ChannelStatus(f"smpp:{name}", "up" if bound else "down", bool(bound), detail)
            )
        if routes_use_at(settings):
            statuses += channel_statuses(settings, "africastalking")
        return statuses
    if channel == "africastalking":
        if not settings.at_api_key.reveal():
            return [ChannelStatus("africastalking", "off", False, "GATEWAY_AT_API_KEY is empty")]
        return [
            ChannelStatus(
                "africastalking",
                "configured",
                True,
                f"Africa's Talking API as {settings.at_username}",
            )
        ]
    if channel == "log":
        return [
            ChannelStatus(
                "log", "up", True, "demo: written to sms-log.jsonl, nothing reaches a phone"
            )
        ]
    return [
        ChannelStatus(
            "none",
            "off",
            False,
            "no SMSC, no Africa's Talking API key, or GATEWAY_SMS_CHANNEL=none",
        )
    ]


DEFAULT_RECEIPT_TIMEOUT = 172_800.0  # Africa's Talking: two days, then "unknown"


def routes_use_at(settings: Settings) -> bool:
    """Whether a route of ``GATEWAY_ROUTES`` sends through Africa's Talking."""
    return any(AT_TARGET in route.targets for route in settings.routes)


def receipt_timeouts_for(settings: Settings, family: str) -> tuple[tuple[str, float], ...]:
    """What the broadcast worker needs to end unconfirmed rows ``unknown``. Rows a
    route sent through AT have unscoped ids: the catch-all scope "" covers them."""
    if family == "smpp":
        own = receipt_timeouts(settings.smsc)
        return (*own, ("", DEFAULT_RECEIPT_TIMEOUT)) if routes_use_at(settings) else own
    return (("", DEFAULT_RECEIPT_TIMEOUT),)


@asynccontextmanager
async def open_sms_sender(
    settings: Settings,
    sink: InboundSink | None,
    number_key: Callable[[str], str],
    ussd_handler: USSDHandler | None = None,
    receipt_store: ReceiptMatchingStore | None = None,
) -> AsyncIterator[tuple[str, SMSSender]]:
    """Yields (channel family for message ids, sender). With ``ussd_handler``, USSD
    sessions arriving on the SMPP binds are answered by it; with ``receipt_store``,
    SMPP receipts held and id formats learned outlive a restart."""
    family = channel_family(settings)
    if family == "log":
        log.info("sms_channel.open", channel="log")
        yield family, LogSMSSender(sms_log_path(settings), number_key)
        return
    if family == "smpp":
        async with AsyncExitStack() as stack:
            at_sender = None
            if routes_use_at(settings):
                session = await stack.enter_async_context(aiohttp.ClientSession())
                at_sender = _at_sender(settings, session)
            pool = SMPPPool(
                settings.smsc,
                sink,
                ussd_handler,
                number_key=number_key,
                receipt_store=receipt_store,
                routes=settings.routes,
                failover_on=settings.route_failover_on,
                africastalking=at_sender,
            )
            if settings.redis_url:
                await share_tps_budgets(stack, pool, settings.redis_url)
            await pool.start()
            stack.push_async_callback(pool.stop)  # before the Redis client closes
            log.info("sms_channel.open", channel="smpp", binds=len(pool.binds))
            yield family, pool
        return
    async with aiohttp.ClientSession() as session:
        log.info("sms_channel.open", channel="africastalking")
        yield family, _at_sender(settings, session)


def _at_sender(settings: Settings, session: aiohttp.ClientSession) -> AfricasTalkingSMS:
    return AfricasTalkingSMS(
        session,
        settings.at_sms_url,
        settings.at_username,
        settings.at_api_key,
        settings.at_sender_id,
    )


async def share_tps_budgets(stack: AsyncExitStack, pool: SMPPPool, redis_url: str) -> None:
    """Each SMSC with a ``shared_tps`` grant gets one Redis token bucket, shared by every
    bind here and by every other worker: together they never exceed the grant. The
    Redis client closes with ``stack``."""
    granted = {smsc.name: smsc.shared_tps for smsc in pool.smscs if smsc.shared_tps > 0}
    if not granted:
        return
    client = aioredis.Redis.from_url(redis_url, socket_timeout=1.0, socket_connect_timeout=1.0)
    stack.push_async_callback(client.aclose)
    budgets = {name: RedisTPSBudget(client, name, tps) for name, tps in granted.items()}
    pool.share_budget(lambda smsc: budgets.get(smsc.name))
    log.info("smpp.shared_tps", smscs=sorted(granted))
