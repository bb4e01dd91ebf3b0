from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from gateway.messages import DeliveryReport, InboundSMS
from gateway.settings import Secret, SMSCSettings
from gateway.smpp.esme import LinkTuning
from gateway.ussd.types import USSDReply, USSDRequest
from tests.smpp.simulator import Simulator

FAST = LinkTuning(
    reconnect_initial=0.05,
    reconnect_max=0.5,
    connect_timeout=3.0,
    bind_timeout=3.0,
    throttle_pause=0.02,
    throttle_pause_max=0.2,
    temporary_pause=0.02,
    submit_deadline=20.0,
    tick_interval=0.05,
)


def smsc_settings(port: int, **overrides: Any) -> SMSCSettings:
    base = SMSCSettings(
        name="sim",
        host="127.0.0.1",
        port=port,
        system_id="gateway",
        password=Secret("secret"),
        tps=100_000.0,
        source_addr="InfoLine",
        enquire_link_interval=30.0,
        response_timeout=5.0,
    )
    return replace(base, **overrides)


@dataclass
class RecordingSink:
    """An InboundSink that keeps what it got, like the store would (dedup by id)."""

    messages: list[InboundSMS] = field(default_factory=list)
    reports: list[DeliveryReport] = field(default_factory=list)
    calls: int = 0
    delay: float = 0.0

    async def on_inbound_sms(self, message: InboundSMS) -> None:
        import asyncio

        self.calls += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        self.messages.append(message)

    async def on_delivery_report(self, report: DeliveryReport) -> None:
        self.reports.append(report)


class EchoMenu:
    """A two-screen USSD handler: a menu, then an END echoing the choice."""

    def __init__(self) -> None:
        self.requests: list[USSDRequest] = []

    async def handle(self, request: USSDRequest) -> USSDReply:
        self.requests.append(request)
        if request.user_input is None:
            return USSDReply("Welcome\n1. Hotlines\n2. Safe routes", end=False)
        return USSDReply(f"You chose {request.user_input}. Stay safe €", end=True)


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    simulator = await Simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
