"""The menu tree being served, swappable while the gateway runs.

The console publishes a new version by validating it and calling :meth:`swap`;
requests already running finish on the tree they started with, and the next one
reads the new tree. No restart.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from pathlib import Path

from gateway.content.safe_yaml import YAMLRefused, read_yaml_file
from gateway.menu.loader import Problem, TreeError
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.services import (
    ServiceDown,
    ServiceMap,
    ServiceMapError,
    build_service_map,
    normalise_code,
    sms_sender,
)
from gateway.menu.validator import load_valid_tree
from gateway.settings import Settings

ROUTES_REMEMBERED = 1024  # service codes whose tree is remembered (ServedTrees.for_code)


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
    (the console edits it; ``gateway validate`` and ``simulate`` take it by default).
    A file that cannot be read counts only when no readable file is the default."""
    paths = tree_files(settings)
    unreadable: list[Path] = []
    for path in paths:
        data = raw_top(path)
        if data is None:
            unreadable.append(path)  # the validator says what is wrong with it
        elif not data.get("service_codes"):
            return path
    return unreadable[0] if unreadable else paths[0]


def raw_top(path: Path) -> dict[str, object] | None:
    """The file's top mapping as read, or None when it cannot be read as one."""
    try:
        data = read_yaml_file(path).data
    except (YAMLRefused, OSError):
        return None
    return data if isinstance(data, dict) else None


def tree_id_of(path: Path) -> str:
    """The tree id a file declares (``tree:``), else its file name's stem."""
    name = (raw_top(path) or {}).get("tree")
    return name if isinstance(name, str) and name else path.stem


def content_folder(settings: Settings, path: Path) -> Path:
    """Where the tree in ``path`` takes its content: ``GATEWAY_CONTENT/<content>`` when
    it names a folder of its own (``content: work-rights``), else the default's."""
    data = raw_top(path) or {}
    name = data.get("content")
    if isinstance(name, str) and name and name.replace("-", "").replace("_", "").isalnum():
        return settings.content / name
    return settings.content


def load_trees(settings: Settings, limit: Limit) -> tuple[Tree, dict[str, Tree], ServiceMap]:
    """Every tree in ``GATEWAY_MENUS``, validated: (the default, the others by id, the
    codes each answers). Any fault is a :class:`TreeError` naming the file."""
    trees = [
        load_valid_tree(path, content_folder(settings, path), limit)
        for path in tree_files(settings)
    ]
    try:
        services = build_service_map([(t.id, t.source, t.service_codes) for t in trees])
    except ServiceMapError as exc:
        raise TreeError([Problem(str(settings.menus), 0, "", str(exc))]) from None
    default = next(tree for tree in trees if tree.id == services.default)
    others = {tree.id: tree for tree in trees if tree.id != services.default}
    return default, others, services


DOWN_CODE_PREFIX = "down-service:"  # a placeholder code no request can come on


class ServedTrees:
    """The tree for each code. Every service's tree is live: the console publishes the
    default's and each other service's menu and content (:mod:`gateway.server.published`
    follows the store for each); a service with nothing valid to serve is down
    (:class:`ServiceDown` for its codes). A published version may change the codes its
    service answers: the map follows each swap, and :meth:`refusal` keeps a version
    whose codes clash with another service's from being swapped in at all."""

    def __init__(
        self,
        live: LiveTree,
        others: Mapping[str, Tree | LiveTree],
        services: ServiceMap,
        down: Mapping[str, str] | None = None,
        files: Mapping[str, Path] | None = None,
        content: Mapping[str, str] | None = None,
    ) -> None:
        self.live = live
        self.others = {
            tree_id: tree if isinstance(tree, LiveTree) else LiveTree(tree)
            for tree_id, tree in others.items()
        }
        self.services = services
        self.down = dict(down or {})
        self.files = dict(files or {})  # tree id -> its file (the console's menu name)
        # tree id -> its own content folder's name ("" or absent: the default's content)
        self.content = dict(content or {})
        # Routing is pure and every request of a service comes on one of a few codes:
        # each code's tree id is remembered (bounded: the code is the caller's input).
        self._routes: dict[str, str] = {}
        self._routed_by = services
        for tree_id, other in self.others.items():
            other.on_swap(self._follower_of(tree_id))
        live.on_swap(self._follower_of(services.default))

    def _follower_of(self, tree_id: str) -> Callable[[Tree, str], None]:
        def swapped(tree: Tree, version: str) -> None:
            codes = tree.service_codes
            if sorted(normalise_code(code) for code in codes) != sorted(
                self.services.codes_of(tree_id)
            ):
                # Checked before the swap (refusal); were it refused now, the codes
                # would keep routing as before rather than break the follower.
                with contextlib.suppress(ServiceMapError):
                    self.services = self.services.with_codes(tree_id, codes)
            self.down.pop(tree_id, None)  # a valid version is served: the service is up

        return swapped

    def refusal(self, tree_id: str) -> Callable[[Tree], str]:
        """Why a version of service ``tree_id``'s tree may not be swapped in ("" when it
        may): another tree id (its subscribers and figures are kept under its id), or
        codes that clash with another service's."""

        def why(tree: Tree) -> str:
            if tree_id != self.services.default and tree.id != tree_id:
                return f"tree: {tree.id!r} is not this service's id {tree_id!r}"
            try:
                self.services.with_codes(tree_id, tree.service_codes)
            except ServiceMapError as exc:
                return str(exc)
            return ""

        return why

    def for_code(self, code: str) -> Tree:
        if self._routed_by is not self.services:
            self._routes, self._routed_by = {}, self.services
        tree_id = self._routes.get(code)
        if tree_id is None:
            tree_id = self.services.route(code)
            if len(self._routes) >= ROUTES_REMEMBERED:
                self._routes.clear()
            self._routes[code] = tree_id
        if tree_id in self.down:
            raise ServiceDown(tree_id)
        other = self.others.get(tree_id)
        return other() if other is not None else self.live()

    def live_of(self, tree_id: str) -> LiveTree:
        """The live tree of service ``tree_id`` (the default's for any other id)."""
        return self.others.get(tree_id) or self.live

    def ids(self) -> list[str]:
        """Every service's tree id, the default first (down services included)."""
        return self.services.tree_ids()

    def key(self, tree: Tree) -> str:
        """The store key of the service ``tree`` answers ("" for the default)."""
        return "" if tree.id == self.live().id else self.services.key_of(tree.id)

    def key_for_code(self, code: str) -> str:
        return self.services.key_of(self.services.route(code))

    def label(self, tree_id: str) -> str:
        """The metrics' ``service`` label: a configured tree id, never a caller's input."""
        return tree_id if tree_id in self.services.tree_ids() else self.services.default

    def sender_of(self, key: str) -> str:
        """The number the service of store key ``key`` sends its SMS from: its own
        (:func:`gateway.menu.services.sms_sender`); "" for the default, which keeps the
        channel's configured sender."""
        if not key:
            return ""
        other = self.others.get(key)
        return sms_sender(self.codes(key), other().sms_number if other is not None else "")

    def reply_sender(self, recipient: str) -> str:
        """The number a reply to an SMS sent to ``recipient`` goes out from: that number,
        as its service declares it, when a service claims it (so the answer to JOIN,
        STOP or a menu screen comes from the number the person texted); else "" (the
        channel's configured sender)."""
        if not self.services.claims(recipient):
            return ""
        wanted = normalise_code(recipient)
        codes = self.codes(self.services.route(recipient))
        return next((code for code in codes if normalise_code(code) == wanted), recipient)

    def codes(self, tree_id: str) -> tuple[str, ...]:
        """The codes the service answers, as its served tree spells them."""
        if tree_id in self.others and tree_id not in self.down:
            return self.others[tree_id]().service_codes
        return tuple(
            code
            for code, owner in self.services.by_code.items()
            if owner == tree_id and not code.startswith(DOWN_CODE_PREFIX)
        )


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
