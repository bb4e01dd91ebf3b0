"""Two gateway processes' worth of apps on one store: a publish (menu or content) made
through one reaches the other without a restart (it polls the store's published
versions); at boot, broken files give way to the last valid published version."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

import gateway.server.published as published
from gateway.content import document as content_document
from gateway.content.document import CONTENT_VERSIONS
from gateway.menu.loader import TreeError
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.server.live_tree import LiveTree
from gateway.settings import Settings
from tests.conftest import SAMPLE_TREE


def tree_v2() -> str:
    """The shipped tree with its home screen's English text changed."""
    return SAMPLE_TREE.read_text(encoding="utf-8").replace(
        '"Safe journey info"', '"Safe journey info (v2)"', 1
    )


async def two_workers(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> tuple[Any, LiveTree]:
    """Two gateway apps serving over one store, as two workers would (following published
    versions every 50 ms); the store and the second worker's live tree."""
    monkeypatch.setattr(published, "POLL_SECONDS", 0.05)
    first = await create_app(settings, broadcast_worker=False)
    second = await create_app(settings, broadcast_worker=False)
    await aiohttp_client(first)
    await aiohttp_client(second)
    return first[RUNTIME].store, second[RUNTIME].live_tree


async def until(reached: Callable[[], bool]) -> None:
    for _ in range(3600):  # a bound on waiting (validation is slow under load)
        if reached():
            return
        await asyncio.sleep(0.05)


async def test_a_publish_reaches_a_second_worker_sharing_the_store(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, sms_channel="none")
    store, live = await two_workers(aiohttp_client, settings, monkeypatch)
    version = await store.create_menu_version("safe-journey", tree_v2(), "eddie", 0.0)
    assert await store.publish_menu_version(version.id, "april", 1.0)
    await until(lambda: live.version == f"v{version.id}")
    assert live.version == f"v{version.id}"
    assert live.current.screens["main"].text["en"] == "Safe journey info (v2)"


async def test_a_content_publish_reaches_a_second_worker(
    aiohttp_client: Any, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = replace(settings, sms_channel="none")
    store, live = await two_workers(aiohttp_client, settings, monkeypatch)
    seed = content_document.read_files(settings.content)
    entry = content_document.entry_of(seed, "hotlines", "ke-999")
    assert entry is not None
    changed = content_document.put_entry(
        seed, "hotlines", content_document.merged_entry(entry, {"text": {"en": "Kenya: 112"}})
    )
    version = await store.create_menu_version(
        CONTENT_VERSIONS, content_document.dump(changed), "eddie", 0.0
    )
    assert await store.publish_menu_version(version.id, "april", 1.0)
    await until(lambda: live.content_version == f"c{version.id}")
    assert live.content_version == f"c{version.id}"
    assert live.current.catalogs["hotlines"].by_id["ke-999"].text["en"] == "Kenya: 112"
    assert live.current.catalogs["hotlines"].by_id["ke-999"].text["fr"].startswith("Kenya")


async def test_broken_files_at_boot_serve_the_last_published_version(
    aiohttp_client: Any, settings: Settings
) -> None:
    settings = replace(settings, sms_channel="none")
    first = await create_app(settings, broadcast_worker=False)
    store = first[RUNTIME].store
    version = await store.create_menu_version("safe-journey", tree_v2(), "eddie", 0.0)
    assert await store.publish_menu_version(version.id, "april", 1.0)
    seed = content_document.read_files(settings.content)
    content = await store.create_menu_version(
        CONTENT_VERSIONS, content_document.dump(seed), "eddie", 0.0
    )
    assert await store.publish_menu_version(content.id, "april", 1.0)
    await aiohttp_client(first)
    # Somebody breaks both kinds of files on disk: a recursive alias in the content, a
    # screen linking nowhere in the tree.
    (settings.content / "hotlines.yaml").write_text("kind: hotlines\nentries: &a [*a]\n")
    tree_path = settings.menus / "safe-journey.yaml"
    tree_path.write_text(tree_path.read_text().replace("goto: hotlines\n", "goto: nowhere\n", 1))

    restarted = await create_app(settings, broadcast_worker=False)
    client = await aiohttp_client(restarted)
    live = restarted[RUNTIME].live_tree
    assert (live.version, live.content_version) == (f"v{version.id}", f"c{content.id}")
    assert live.current.screens["main"].text["en"] == "Safe journey info (v2)"
    assert "hotlines.yaml:2" in live.warning and "do not validate" in live.warning
    status = await (await client.get("/status")).json()
    assert status["serving_warning"] == live.warning
    assert status["content_version"] == f"c{content.id}"


async def test_broken_files_and_nothing_published_refuse_to_boot_naming_the_line(
    settings: Settings,
) -> None:
    settings = replace(settings, sms_channel="none")
    (settings.content / "hotlines.yaml").write_text("kind: hotlines\nentries: &a [*a]\n")
    with pytest.raises(TreeError) as refused:
        await create_app(settings, broadcast_worker=False)
    assert "hotlines.yaml:2" in str(refused.value)
    assert "YAML anchors (&a) are not allowed" in str(refused.value)
