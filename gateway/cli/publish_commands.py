"""``gateway publish content|menu NAME --as USER``: publish the open draft from a shell.

The same path as the console's Publish button (:mod:`gateway.console.publishing`): the
account's password and its role on the service concerned are checked
(:mod:`gateway.cli.acting_account`; a menu's service is its owner, content's is
``--service``, else the default), nobody publishes a draft they edited, the draft is
validated with the other half (that service's menus or content) and against the other
services' codes first, and the audit row names every field that changes. Running gateways
pick the new version up at their next poll of the store (within seconds).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from typing import Any

from gateway.cli.acting_account import AccountRefused, act_as, add_account_arguments
from gateway.cli.service_option import (
    UnknownService,
    add_service_argument,
    chosen_service,
    service_of_menu,
)
from gateway.cli.store_command import run_with_store
from gateway.console import publishing
from gateway.console.content_source import ContentSource, stored_services
from gateway.console.roles import Permission
from gateway.menu.loader import TreeError
from gateway.observability.logs import configure as configure_logging
from gateway.settings import Settings
from gateway.store.port import Store


def add_commands(subparsers: argparse._SubParsersAction[Any]) -> None:
    publish = subparsers.add_parser("publish", help="publish the open content or menu draft")
    what = publish.add_subparsers(dest="publish_what", required=True, metavar="WHAT")
    content = what.add_parser("content", help="the open content draft")
    content.add_argument("--version", type=int, default=None, help="default: the open draft")
    add_service_argument(content)
    add_account_arguments(content)
    content.set_defaults(func=_run, menu=None)
    menu = what.add_parser("menu", help="a menu's open draft")
    menu.add_argument("menu", metavar="NAME")
    menu.add_argument("--version", type=int, default=None, help="default: the open draft")
    add_account_arguments(menu)
    menu.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    settings = Settings.from_env()
    configure_logging(settings.log_format, settings.log_level)
    return asyncio.run(_publish(args, settings))


async def _publish(args: argparse.Namespace, settings: Settings) -> int:
    async def work(store: Store) -> int:
        what = f"publish {args.menu or 'content'}"
        chosen = (
            service_of_menu(settings, args.menu)
            if args.menu is not None
            else chosen_service(settings, getattr(args, "service", None))
        )
        approver = await act_as(store, args, (Permission.APPROVE,), what, service=chosen)
        services = await stored_services(settings, store)
        service = next(s for s in services if s.id == chosen.id)
        if args.menu is None and not (service.default or service.content):
            print(
                f"gateway: {service.id} shares the default service's content: "
                "publish it without --service",
                file=sys.stderr,
            )
            return 1
        source = ContentSource(store, settings, service, services)
        version = args.version
        if version is None:
            versions = await (
                source.versions() if args.menu is None else store.list_menu_versions(args.menu)
            )
            newest = max(versions, key=lambda v: v.id, default=None)
            if newest is None or newest.state != "draft":
                print("gateway: there is no open draft to publish", file=sys.stderr)
                return 1
            version = newest.id
        act = publishing.VersionAct(
            source, args.menu or source.name, version, approver, time.time(), service.key
        )
        if args.menu is None:
            outcome = await publishing.publish_content(act)
        else:
            outcome = await publishing.publish_menu(act)
        print(outcome.message, file=sys.stdout if outcome.published else sys.stderr)
        return 0 if outcome.published else 1

    return await run_with_store(settings, work, (AccountRefused, TreeError, UnknownService))
