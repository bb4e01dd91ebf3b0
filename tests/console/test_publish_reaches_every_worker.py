"""Two gateway processes' worth of apps on one store: a publish made through one
reaches the other without a restart (it polls the store's published version)."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from typing import Any

import pytest

import gateway.console.mount as mount
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from tests.conftest import SAMPLE_TREE


async def test_a_publish_reaches_a_second_worker_sharing_the_store(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(mount, "PUBLISH_POLL_SECONDS", 0.05)
    settings = replace(settings, sms_channel="none")
    first = await create_app(settings, broadcast_worker=False)
    second = await create_app(settings, broadcast_worker=False)
    await aiohttp_client(first)
    await aiohttp_client(second)
    store = first[RUNTIME].store
    text = SAMPLE_TREE.read_text(encoding="utf-8").replace(
        '"Safe journey info"', '"Safe journey info (v2)"', 1
    )
    version = await store.create_menu_version("safe-journey", text, "eddie", 0.0)
    assert await store.publish_menu_version(version.id, "april", 1.0)
    live = second[RUNTIME].live_tree
    for _ in range(100):
        if live.version == f"v{version.id}":
            break
        await asyncio.sleep(0.05)
    assert live.version == f"v{version.id}"
    assert live.current.screens["main"].text["en"] == "Safe journey info (v2)"
