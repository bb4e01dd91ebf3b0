"""What a console request on a stored version hands to :mod:`gateway.console.publishing`:
the version, the signed-in account, the console's clock and the chosen service."""

from __future__ import annotations

from aiohttp import web

from gateway.console.content_source import ContentSource
from gateway.console.context import context, signed_in_user
from gateway.console.publishing import VersionAct
from gateway.console.service_scope import chosen_service
from gateway.store.records import MenuVersion


def version_act(request: web.Request, source: ContentSource, version: MenuVersion) -> VersionAct:
    return VersionAct(
        source,
        version.menu_name,
        version.id,
        signed_in_user(request),
        context(request).now(),
        chosen_service(request).key,
    )
