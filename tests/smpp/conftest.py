"""Fixtures for the SMPP tests. The node-smpp simulator runs per test, bounded in time."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.smpp.smsc_driver import Simulator


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    simulator = await Simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
