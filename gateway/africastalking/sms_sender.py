"""Africa's Talking SMS sending, as an :class:`gateway.sms.messages.SMSSender`.

We speak AT's documented HTTP API with aiohttp instead of wrapping the official SDK
in ``asyncio.to_thread``: the SDK blocks on ``requests`` and fixes its host inside
(live, or sandbox for user ``sandbox``), so it could neither share the event loop's
connection pool nor be pointed at the test double; the API itself is one form POST.

Bulk mode: one POST carries many recipients of the *same* text from the *same* sender
(``to`` is a comma-separated list), so a batch is grouped by sender and text (one group
per service's number and language) and cut into requests of at most
``max_recipients``. ``from`` is the message's own sender (a service's SMS number) or,
for the default service, ``GATEWAY_AT_SENDER_ID``. AT answers per recipient::

    {"SMSMessageData": {"Message": "Sent to 2/2 Total Cost: ...",
      "Recipients": [{"statusCode": 101, "number": "+2547...", "status": "Success",
                      "cost": "KES 0.8000", "messageId": "ATXid_..."}, ...]}}

Status codes: 100 Processed, 101 Sent, 102 Queued are accepted; 406 UserInBlacklist
is an opt-out (counts as STOP); 405 InsufficientBalance, 500 InternalServerError,
501 GatewayError are temporary; the rest are final. A transport error or an HTTP
5xx makes the whole request temporary. No number ever enters a log or an error text.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import aiohttp
import structlog

from gateway.privacy.numbers import normalise_msisdn
from gateway.settings import Secret
from gateway.sms.messages import OutboundSMS, SendOutcome, SendResult

log = structlog.get_logger(__name__)

CHANNEL = "africastalking"
ACCEPTED_CODES = frozenset({100, 101, 102})
OPTED_OUT_CODES = frozenset({406})
TEMPORARY_CODES = frozenset({405, 500, 501})


class AfricasTalkingSMS:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        url: str,
        username: str,
        api_key: Secret,
        sender_id: str = "",
        max_recipients: int = 500,
        timeout: float = 30.0,
    ) -> None:
        self._session = session
        self._url = url
        self._username = username
        self._api_key = api_key
        self._sender_id = sender_id
        self._max_recipients = max_recipients
        self._timeout = aiohttp.ClientTimeout(total=timeout)

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        by_text: dict[tuple[str, str], list[OutboundSMS]] = defaultdict(list)
        for message in messages:
            by_text[message.sender, message.text].append(message)
        requests = [
            group[start : start + self._max_recipients]
            for group in by_text.values()
            for start in range(0, len(group), self._max_recipients)
        ]
        answers = await asyncio.gather(*(self._post(chunk) for chunk in requests))
        results = {result.reference: result for answer in answers for result in answer}
        return [results[message.reference] for message in messages]

    async def _post(self, chunk: list[OutboundSMS]) -> list[SendResult]:
        form = {
            "username": self._username,
            "to": ",".join(message.recipient for message in chunk),
            "message": chunk[0].text,
            "bulkSMSMode": "1",
            "enqueue": "1",
        }
        sender = chunk[0].sender or self._sender_id
        if sender:
            form["from"] = sender
        headers = {"apiKey": self._api_key.reveal(), "Accept": "application/json"}
        try:
            async with self._session.post(
                self._url, data=form, headers=headers, timeout=self._timeout
            ) as response:
                status = response.status
                body = await response.json(content_type=None) if status < 300 else None
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            log.warning("at_sms.request_failed", error=type(exc).__name__, count=len(chunk))
            return [_all(message, SendOutcome.RETRY, type(exc).__name__) for message in chunk]
        if status >= 300 or not isinstance(body, dict):
            outcome = (
                SendOutcome.RETRY if status >= 500 or status in (401, 429) else SendOutcome.FAILED
            )
            log.warning("at_sms.http_error", status=status, count=len(chunk))
            return [_all(message, outcome, f"HTTP {status}") for message in chunk]
        return _match(chunk, body)


def _all(message: OutboundSMS, outcome: SendOutcome, error: str) -> SendResult:
    return SendResult(message.reference, outcome, (), error)


def _match(chunk: list[OutboundSMS], body: dict[str, Any]) -> list[SendResult]:
    """Pair AT's per-recipient answers with our messages by normalised number."""
    recipients = body.get("SMSMessageData", {}).get("Recipients", [])
    by_number: dict[str, dict[str, Any]] = {}
    for entry in recipients if isinstance(recipients, list) else []:
        if isinstance(entry, dict):
            by_number[normalise_msisdn(str(entry.get("number", "")))] = entry
    results = []
    for message in chunk:
        entry = by_number.get(normalise_msisdn(message.recipient))
        if entry is None:
            # AT left this number out (it does so for some invalid numbers): final.
            results.append(_all(message, SendOutcome.FAILED, "not in AT response"))
            continue
        results.append(_result(message.reference, entry))
    return results


def _result(reference: str, entry: dict[str, Any]) -> SendResult:
    try:
        code = int(entry.get("statusCode", 0))
    except (TypeError, ValueError):
        code = 0
    status = str(entry.get("status", ""))[:40]
    if code in ACCEPTED_CODES:
        message_id = str(entry.get("messageId", ""))
        ids = (message_id,) if message_id and message_id != "None" else ()
        return SendResult(reference, SendOutcome.ACCEPTED, ids)
    if code in OPTED_OUT_CODES or status.lower() == "userinblacklist":
        return SendResult(reference, SendOutcome.OPTED_OUT, (), status)
    if code in TEMPORARY_CODES:
        return SendResult(reference, SendOutcome.RETRY, (), status)
    return SendResult(reference, SendOutcome.FAILED, (), status or f"code {code}")
