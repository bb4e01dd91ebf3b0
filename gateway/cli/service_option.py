"""``--service ID``: which service a command acts on, as operators read it (the tree
id), checked against the services configured in ``GATEWAY_MENUS``.

Without it a command acts on the default service (the tree without ``service_codes``),
as before several services. An unknown id is refused with the list of the valid ones.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError
from gateway.settings import Settings


class UnknownService(GatewayError, ValueError):
    """``--service`` names no configured service."""


@dataclass(frozen=True)
class ChosenService:
    id: str  # the tree id, as operators read it
    key: str  # its key in the store ("" for the default)
    content: Path  # its content folder (topics, keywords)


def service_keys(settings: Settings) -> dict[str, str]:
    """Every configured service: tree id -> its store key ("" for the default)."""
    from gateway.server.live_tree import tree_file, tree_files, tree_id_of

    default = tree_file(settings)
    return {
        tree_id_of(path): "" if path == default else tree_id_of(path)
        for path in tree_files(settings)
    }


def service_of_menu(settings: Settings, menu: str | None) -> ChosenService:
    """The service whose menu (its tree file's stem) is ``menu``; the default for the
    content (None) and for a name no other file has."""
    from gateway.server.live_tree import tree_file, tree_files, tree_id_of

    default = tree_file(settings)
    for path in tree_files(settings):
        if path.stem == menu and path != default:
            return chosen_service(settings, tree_id_of(path))
    return chosen_service(settings, None)


def add_service_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--service",
        default=None,
        metavar="ID",
        help="the service (its tree id) to act on; default: the default service",
    )


def chosen_service(settings: Settings, wanted: str | None) -> ChosenService:
    """The service ``--service`` names (the default when None); :class:`UnknownService`
    naming the valid ids for any other."""
    from gateway.server.live_tree import content_folder, tree_file, tree_files, tree_id_of

    keys = service_keys(settings)
    name = (
        next(tree_id for tree_id, key in keys.items() if key == "")
        if wanted is None
        else wanted.strip()
    )
    if name not in keys:
        known = ", ".join(sorted(keys))
        raise UnknownService(f"no service {name!r} (the services: {known})")
    path = tree_file(settings) if keys[name] == "" else None
    path = path or next(p for p in tree_files(settings) if tree_id_of(p) == name)
    return ChosenService(name, keys[name], content_folder(settings, path))
