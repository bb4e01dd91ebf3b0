"""Handing a published menu to the running gateway: the console's publish hook.

The gateway passes ``publish_hook=publish_to(live_tree, settings)`` to
:func:`gateway.console.create_console_app`; a publish then loads the new version with
the same loader and validator the gateway boots with and swaps the live tree, so the
next USSD request is served from it -- no restart.
"""

from __future__ import annotations

from dataclasses import replace

import structlog

from gateway.console.ports import ContentHook, PublishHook
from gateway.content.catalog import load_catalogs
from gateway.content.country_aliases import load_country_aliases
from gateway.menu.loader import TreeError, load_tree_text
from gateway.menu.pages import Limit
from gateway.menu.validator import validate
from gateway.server.live_tree import LiveTree
from gateway.settings import Settings

log = structlog.get_logger(__name__)


def publish_to(live: LiveTree, settings: Settings) -> PublishHook:
    limit = Limit(settings.screen_limit)

    async def publish(menu_name: str, tree_yaml: str, version_id: int) -> None:
        tree = load_tree_text(
            tree_yaml,
            f"{menu_name}.yaml",
            load_catalogs(settings.content),
            load_country_aliases(settings.content),
        )
        problems = validate(tree, limit)
        if problems:
            # The console validated it a moment ago; content files changed since.
            raise TreeError(problems)
        live.swap(tree, f"v{version_id}")
        log.info("console.menu_live", menu=menu_name, version=version_id)

    return publish


def reload_content_into(live: LiveTree, settings: Settings) -> ContentHook:
    """The console's content hook: after a catalog changes, serve the live tree with the
    new catalogs (validated first; a catalog that breaks the tree is not taken)."""
    limit = Limit(settings.screen_limit)

    async def reload() -> None:
        tree = replace(
            live.current,
            catalogs=load_catalogs(settings.content),
            country_aliases=load_country_aliases(settings.content),
            page_cache={},
        )
        problems = validate(tree, limit)
        if problems:
            raise TreeError(problems)
        live.swap(tree, live.version)
        log.info("console.content_live", version=live.version)

    return reload
