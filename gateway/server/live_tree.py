"""The menu tree being served, swappable while the gateway runs.

The console publishes a new version by validating it and calling :meth:`swap`;
requests already running finish on the tree they started with, and the next one
reads the new tree. No restart.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from gateway.menu.model import Tree
from gateway.settings import Settings


def tree_file(settings: Settings) -> Path:
    """``GATEWAY_MENUS`` may name a file, or a folder holding exactly one tree."""
    if settings.menus.is_file():
        return settings.menus
    trees = sorted(settings.menus.glob("*.yaml"))
    if len(trees) != 1:
        raise FileNotFoundError(f"expected one *.yaml tree in {settings.menus}, found {len(trees)}")
    return trees[0]


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
