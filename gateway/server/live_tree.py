"""The menu tree being served, swappable while the gateway runs.

The console publishes a new version by validating it and calling :meth:`swap`;
requests already running finish on the tree they started with, and the next one
reads the new tree. No restart.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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
        data = _raw(path)
        if data is None:
            unreadable.append(path)  # the validator says what is wrong with it
        elif not data.get("service_codes"):
            return path
    return unreadable[0] if unreadable else paths[0]


def _raw(path: Path) -> dict[str, object] | None:
    """The file's top mapping as read, or None when it cannot be read as one."""
    try:
        data = read_yaml_file(path).data
    except (YAMLRefused, OSError):
        return None
    return data if isinstance(data, dict) else None


def tree_id_of(path: Path) -> str:
    """The tree id a file declares (``tree:``), else its file name's stem."""
    name = (_raw(path) or {}).get("tree")
    return name if isinstance(name, str) and name else path.stem


def content_folder(settings: Settings, path: Path) -> Path:
    """Where the tree in ``path`` takes its content: ``GATEWAY_CONTENT/<content>`` when
    it names a folder of its own (``content: work-rights``), else the default's."""
    data = _raw(path) or {}
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


@dataclass(frozen=True)
class OtherTrees:
    """The other services at start-up: the trees that validated, the codes of all, and
    the services that are down (tree id -> the sentence saying why, ``file:line``)."""

    trees: dict[str, Tree]
    services: ServiceMap
    down: dict[str, str]
    content: dict[str, Path]  # tree id -> its content folder
    files: dict[str, Path]  # tree id -> its file


def load_other_trees(settings: Settings, limit: Limit, default_id: str) -> OtherTrees:
    """The other services' trees (every file but the default one, which the published
    version may replace, and which may even be broken at boot) and the codes they answer.

    A broken file does not stop the others: its service is marked down (its codes get
    a polite "unavailable" screen, never another tree's menu, never a half-valid one)
    and the reason names ``file:line``. Its codes are read from the file as far as it
    reads; a file that cannot be read at all claims no code. Codes that say nothing
    clear about which tree answers what (two defaults, a code claimed twice) still stop
    the boot: no service could be trusted to answer its own callers."""
    default_path = tree_file(settings)
    trees: dict[str, Tree] = {}
    down: dict[str, str] = {}
    content: dict[str, Path] = {}
    files: dict[str, Path] = {default_id: default_path}
    claims: list[tuple[str, str, Sequence[str]]] = [(default_id, str(default_path), ())]
    for path in tree_files(settings):
        if path == default_path:
            continue
        folder = content_folder(settings, path)
        try:
            tree = load_valid_tree(path, folder, limit)
        except TreeError as exc:
            data = _raw(path) or {}
            name = data.get("tree")
            tree_id = name if isinstance(name, str) and name else path.stem
            raw_codes = data.get("service_codes")
            codes = (
                tuple(str(code) for code in raw_codes)
                if isinstance(raw_codes, list) and raw_codes
                # No code to claim: it must not become a second default either.
                else (f"{DOWN_CODE_PREFIX}{tree_id}",)
            )
            down[tree_id] = str(exc).splitlines()[0] if str(exc) else str(path)
            content[tree_id] = folder
            files[tree_id] = path
            claims.append((tree_id, str(path), codes))
            continue
        trees[tree.id] = tree
        content[tree.id] = folder
        files[tree.id] = path
        claims.append((tree.id, tree.source, tree.service_codes))
    try:
        services = build_service_map(claims)
    except ServiceMapError as exc:
        raise TreeError([Problem(str(settings.menus), 0, "", str(exc))]) from None
    return OtherTrees(trees, services, down, content, files)


DOWN_CODE_PREFIX = "down-service:"  # a placeholder code no request can come on


class ServedTrees:
    """The tree for each code: the default is live (the console publishes it), the other
    services' trees are read from their files at start-up; a service whose file was
    broken is down (:class:`ServiceDown` for its codes)."""

    def __init__(
        self,
        live: LiveTree,
        others: Mapping[str, Tree],
        services: ServiceMap,
        down: Mapping[str, str] | None = None,
        files: Mapping[str, Path] | None = None,
    ) -> None:
        self.live = live
        self.others = dict(others)
        self.services = services
        self.down = dict(down or {})
        self.files = dict(files or {})  # tree id -> its file (the console's menu name)
        # Routing is pure and every request of a service comes on one of a few codes:
        # each code's tree id is remembered (bounded: the code is the caller's input).
        self._routes: dict[str, str] = {}
        self._routed_by = services

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
        return self.others.get(tree_id) or self.live()

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
        tree = self.others.get(key)
        return sms_sender(self.codes(key), tree.sms_number if tree is not None else "")

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
        """The codes the service answers, as its file spells them."""
        if tree_id in self.others:
            return self.others[tree_id].service_codes
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
