"""Fixtures for the SMPP tests. The node-smpp simulator runs per test, bounded in time."""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

# The driver lives beside this file; tests import it by its (unique) module name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from smsc_driver import Simulator


@pytest.fixture
async def smsc() -> AsyncIterator[Simulator]:
    simulator = await Simulator.start()
    try:
        yield simulator
    finally:
        await simulator.stop()
