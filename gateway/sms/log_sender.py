"""The ``log`` SMS channel: messages are written to a file, never sent. For demos and tests.

``GATEWAY_SMS_CHANNEL=log`` writes one JSON line per message to
``<data folder>/sms-log.jsonl``: when, the reference, the recipient as a keyed hash
(never the number), the parts it would take and the text. Nothing reaches a phone
and no receipt ever comes, so broadcast rows stay ``submitted`` and end ``unknown``
after the receipt timeout: the console never shows them as delivered.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
import uuid
from collections.abc import Callable, Sequence
from pathlib import Path

from gateway.sms.messages import OutboundSMS, SendOutcome, SendResult
from gateway.sms.segmentation import SegmentationError, SplitMode, plan


class LogSMSSender:
    def __init__(
        self,
        path: Path,
        number_key: Callable[[str], str],
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.path = path
        self._number_key = number_key
        self._clock = clock
        self._run = uuid.uuid4().hex[:8]  # ids stay unique across restarts
        self._ids = itertools.count(1)
        self.written = 0

    async def send(self, messages: Sequence[OutboundSMS]) -> list[SendResult]:
        lines: list[str] = []
        results: list[SendResult] = []
        for message in messages:
            try:
                parts = len(plan(message.text, SplitMode.UDH, 0))
            except SegmentationError:
                results.append(SendResult(message.reference, SendOutcome.FAILED, error="too long"))
                continue
            message_id = f"log-{self._run}-{next(self._ids)}"
            lines.append(
                json.dumps(
                    {
                        "at": round(self._clock(), 3),
                        "reference": message.reference,
                        "to_hash": self._number_key(message.recipient)[:16],
                        "from": message.sender,  # a service's own number; "" the default
                        "parts": parts,
                        "text": message.text,
                        "message_id": message_id,
                    },
                    ensure_ascii=False,
                )
            )
            results.append(SendResult(message.reference, SendOutcome.ACCEPTED, (message_id,)))
        if lines:
            await asyncio.to_thread(self._append, lines)
            self.written += len(lines)
        return results

    def _append(self, lines: list[str]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as out:
            out.write("\n".join(lines) + "\n")
