"""The menu tree being served, swappable while the gateway runs.

The console publishes a new version by validating it and calling :meth:`swap`;
requests already running finish on the tree they started with, and the next one
reads the new tree. No restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.content.safe_yaml import YAMLRefused, read_yaml_file
from gateway.menu.loader import Problem, TreeError
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.services import ServiceMap, ServiceMapError, build_service_map
from gateway.menu.validator import load_valid_tree
from gateway.settings import Settings


def tree_files(settings: Settings) -> list[Path]:
    """``GATEWAY_MENUS`` names a file, or a folder of trees (one per service)."""
    if settings.menus.is_file():
        return [settings.menus]
    trees = sorted(settings.menus.glob("*.yaml"))
    if not trees:
        raise TreeError([Problem(str(settings.menus), 0, "", "no *.yaml menu tree here")])
    return trees


def tree_file(settings: Settings) -> Path:
    """The default tree's file: the only one, or the one that declares no service_codes
    (the console edits it; ``gateway validate`` and ``simulate`` take it by default)."""
    paths = tree_files(settings)
    for path in paths:
        try:
            data = read_yaml_file(path).data
        except YAMLRefused:
            return path  # the validator says what is wrong with it
        if not (isinstance(data, dict) and data.get("service_codes")):
            return path
    return paths[0]


def load_trees(settings: Settings, limit: Limit) -> tuple[Tree, dict[str, Tree], ServiceMap]:
    """Every tree in ``GATEWAY_MENUS``, validated: (the default, the others by id, the
    codes each answers). Any fault is a :class:`TreeError` naming the file."""
    trees = [load_valid_tree(path, settings.content, limit) for path in tree_files(settings)]
    try:
        services = build_service_map([(t.id, t.source, t.service_codes) for t in trees])
    except ServiceMapError as exc:
        raise TreeError([Problem(str(settings.menus), 0, "", str(exc))]) from None
    default = next(tree for tree in trees if tree.id == services.default)
    others = {tree.id: tree for tree in trees if tree.id != services.default}
    return default, others, services


def load_other_trees(
    settings: Settings, limit: Limit, default_id: str
) -> tuple[dict[str, Tree], ServiceMap]:
    """The other services' trees (every file but the default one, which the published
    version may replace, and which may even be broken at boot) and the codes they answer."""
    default_path = tree_file(settings)
    others = [
        load_valid_tree(path, settings.content, limit)
        for path in tree_files(settings)
        if path != default_path
    ]
    try:
        services = build_service_map(
            [
                (default_id, str(default_path), ()),
                *((t.id, t.source, t.service_codes) for t in others),
            ]
        )
    except ServiceMapError as exc:
        raise TreeError([Problem(str(settings.menus), 0, "", str(exc))]) from None
    return {tree.id: tree for tree in others}, services


class ServedTrees:
    """The tree for each code: the default is live (the console publishes it), the other
    services' trees are read from their files at start-up."""

    def __init__(self, live: LiveTree, others: Mapping[str, Tree], services: ServiceMap) -> None:
        self.live = live
        self.others = dict(others)
        self.services = services

    def for_code(self, code: str) -> Tree:
        return self.others.get(self.services.route(code)) or self.live()

    def ids(self) -> list[str]:
        return [self.live().id, *self.others]


class LiveTree:
    """The served tree; ``version`` names its menu ("file" or "v12"), ``content_version``
    its content ("files" or "c7"); ``warning`` says why the gateway serves something
    other than its files (shown on ``/status`` and the console's banner). ``adapt``
    shapes every tree before it is served (e.g. no "Send by SMS" on a gateway without
    an SMS channel)."""

    def __init__(
        self,
        tree: Tree,
        version: str = "file",
        content_version: str = "files",
        adapt: Callable[[Tree], Tree] | None = None,
    ) -> None:
        self._adapt = adapt or (lambda tree: tree)
        self._tree = self._adapt(tree)
        self.version = version
        self.content_version = content_version
        self.warning = ""
        self._listeners: list[Callable[[Tree, str], None]] = []

    def __call__(self) -> Tree:
        return self._tree

    @property
    def current(self) -> Tree:
        return self._tree

    def swap(self, tree: Tree, version: str, content_version: str | None = None) -> None:
        tree = self._adapt(tree)
        self._tree = tree
        self.version = version
        if content_version is not None:
            self.content_version = content_version
        for listener in self._listeners:
            listener(tree, version)

    def on_swap(self, listener: Callable[[Tree, str], None]) -> None:
        self._listeners.append(listener)
