from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer

from tests.at_double import MESSAGING_PATH, ATDouble


@pytest.fixture
async def double() -> AsyncIterator[tuple[ATDouble, str]]:
    """Africa's Talking's messaging API, doubled on a test server: the double and the
    URL the gateway's SMS channel posts to."""
    at = ATDouble()
    server = TestServer(at.app())
    await server.start_server()
    yield at, str(server.make_url(MESSAGING_PATH))
    await server.close()
