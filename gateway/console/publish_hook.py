"""Handing a publish to the running gateway: the console's publish hook.

A publish (menu or content) is a row in the store; the hook asks the gateway's
:class:`~gateway.server.published.PublishedFollower` of the service it concerns to look
now rather than at its next poll, so the worker that took the publish serves it at once
and every other worker within the poll interval. The follower loads the newest
published menu and content with the same loader and validator the gateway boots with,
and never swaps in a tree that fails them.
"""

from __future__ import annotations

import structlog

from gateway.console.ports import PublishHook
from gateway.server.published import PublishedFollower, ServiceFollowers

log = structlog.get_logger(__name__)


def publish_to(follower: PublishedFollower | ServiceFollowers) -> PublishHook:
    """The hook for one follower, or for every service's (the menu's own follower looks)."""
    followers = ServiceFollowers.of(follower)

    async def publish(menu_name: str, tree_yaml: str, version_id: int) -> None:
        served = await followers.menu_published(menu_name)
        log.info(
            "console.published",
            menu=menu_name,
            service=served.service,
            version=version_id,
            serving=served.live.version,
            content=served.live.content_version,
        )

    return publish
