"""Handing a publish to the running gateway: the console's publish hook.

A publish (menu or content) is a row in the store; the hook asks the gateway's
:class:`~gateway.server.published.PublishedFollower` to look now rather than at its next
poll, so the worker that took the publish serves it at once and every other worker
within the poll interval. The follower loads the newest published menu and content
with the same loader and validator the gateway boots with, and never swaps in a tree
that fails them.
"""

from __future__ import annotations

import structlog

from gateway.console.ports import PublishHook
from gateway.server.published import PublishedFollower

log = structlog.get_logger(__name__)


def publish_to(follower: PublishedFollower) -> PublishHook:
    async def publish(menu_name: str, tree_yaml: str, version_id: int) -> None:
        await follower.refresh()
        log.info(
            "console.published",
            menu=menu_name,
            version=version_id,
            serving=follower.live.version,
            content=follower.live.content_version,
        )

    return publish
