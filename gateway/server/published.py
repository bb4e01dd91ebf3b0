"""Which menu tree and content the gateway serves: the newest valid published versions.

A served tree is two halves: the menu (a published menu version, else the file under
``menus/``) and the content (a published content version, else the catalogs under
``content/``). Both are taken from the store when it holds a published version; the
files are the seed. Whatever is chosen is loaded and validated as a whole, tree and
content together, exactly as at a publish.

At boot, the files are checked too. When they fail but the store holds a valid
published version, the gateway serves that and says why, loudly: an error log line,
``/status`` and the console's banner carry :attr:`LiveTree.warning`. Only when nothing
valid exists anywhere does the boot fail, with every problem as ``file:line``.

Every service is served this way, each with its own follower (:class:`ServiceFollowers`):
its menu under its tree file's name, its content under
:func:`~gateway.content.document.content_versions_of` (a service without a content
folder of its own follows the default's content). A version of another service's tree
whose codes would clash with a third service's is not swapped in either.

Every worker polls the store (:meth:`PublishedFollower.run`, every
:data:`POLL_SECONDS`): a publish made through any worker reaches all of them within
that time, without a restart. A published version that does not validate with the
other half is never swapped in; the worker keeps serving what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.content import document as content_document
from gateway.content.catalog import Catalog, ContentError, load_catalogs
from gateway.content.country_aliases import load_country_aliases
from gateway.menu.loader import Problem, TreeError, load_tree_text
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.validator import validate
from gateway.server.live_tree import LiveTree, tree_file
from gateway.settings import Settings
from gateway.store.port import Store

POLL_SECONDS = 5.0
HELD_VERSIONS = 4  # valid versions refused for their codes, kept to check again
log = structlog.get_logger("gateway.server.published")


@dataclass(frozen=True)
class MenuHalf:
    label: str  # "file" or "v12"
    text: str
    source: str  # for problems: the file path, or "menu safe-journey v12"


@dataclass(frozen=True)
class ContentHalf:
    label: str  # "files" or "c7"
    catalogs: dict[str, Catalog]


@dataclass(frozen=True)
class Seed:
    """What the files on disk hold, read once at boot (the server never writes them)."""

    menu_name: str
    menu: MenuHalf | None
    content: ContentHalf | None
    problems: tuple[Problem, ...]  # why the files alone cannot be served ("" = they can)
    country_aliases: tuple[tuple[str, str], ...] = ()  # from content/, for every version
    content_name: str = content_document.CONTENT_VERSIONS  # its content versions' name
    folder: Path | None = None  # its content folder (None: GATEWAY_CONTENT)


def read_seed(
    settings: Settings,
    limit: Limit,
    path: Path | None = None,
    folder: Path | None = None,
    content_name: str = content_document.CONTENT_VERSIONS,
) -> Seed:
    """The seed of one service: its tree file (the default's unless ``path``) and its
    content folder (the default's, ``GATEWAY_CONTENT``, unless ``folder``)."""
    folder = settings.content if folder is None else folder
    problems: list[Problem] = []
    menu: MenuHalf | None = None
    content: ContentHalf | None = None
    try:
        path = tree_file(settings) if path is None else path
        menu_name = path.stem
        menu = MenuHalf("file", path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, TreeError) as exc:
        menu_name = (path or settings.menus).stem
        problems.append(Problem(str(settings.menus), 0, "", f"cannot read the tree: {exc}"))
    try:
        content = ContentHalf("files", load_catalogs(folder))
    except (ContentError, OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(folder), 0, "", str(exc)))
    aliases: tuple[tuple[str, str], ...] = ()
    try:
        aliases = load_country_aliases(folder)
    except (ContentError, OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(folder), 0, "", str(exc)))
    if menu is not None and content is not None:
        _, found = build(menu, content, limit, aliases)
        problems += found
    return Seed(menu_name, menu, content, tuple(problems), aliases, content_name, folder)


def build(
    menu: MenuHalf,
    content: ContentHalf,
    limit: Limit,
    country_aliases: tuple[tuple[str, str], ...] = (),
) -> tuple[Tree | None, list[Problem]]:
    """Load and validate one menu with one content: the tree, or its problems."""
    try:
        tree = load_tree_text(menu.text, menu.source, content.catalogs, country_aliases)
    except TreeError as exc:
        return None, list(exc.problems)
    problems = validate(tree, limit)
    return (None, problems) if problems else (tree, [])


class PublishedFollower:
    """Keeps a :class:`LiveTree` on the newest valid published menu and content.

    ``refusal`` (set by the gateway with several services) says why a valid tree may
    still not be served ("" when it may): its codes clash with another service's. Such
    a version is held, not dropped: it is served once the clash is gone."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        live: LiveTree,
        seed: Seed,
        service: str = "",
    ) -> None:
        self.settings = settings
        self.store = store
        self.live = live
        self.seed = seed
        self.service = service  # its tree id, for the logs ("" for the default)
        self.limit = Limit(settings.screen_limit)
        self.refusal: Callable[[Tree], str] | None = None
        self._lock = asyncio.Lock()
        self._refused: set[tuple[str, str]] = set()  # combinations that failed: not retried
        self._held: dict[tuple[str, str], Tree] = {}  # valid, but refused: checked again

    async def _halves(self) -> tuple[list[MenuHalf], list[ContentHalf]]:
        menus: list[MenuHalf] = []
        contents: list[ContentHalf] = []
        published_menu = await self.store.published_menu(self.seed.menu_name)
        if published_menu is not None:
            menus.append(
                MenuHalf(
                    f"v{published_menu.id}",
                    published_menu.tree_yaml,
                    f"menu {self.seed.menu_name} v{published_menu.id}",
                )
            )
        if self.seed.menu is not None:
            menus.append(self.seed.menu)
        published_content = await self.store.published_menu(self.seed.content_name)
        if published_content is not None:
            label = f"c{published_content.id}"
            try:
                document = content_document.parse(published_content.tree_yaml, f"content {label}")
                contents.append(
                    ContentHalf(
                        label,
                        content_document.catalogs(
                            document, f"content {label}", published_content.tree_yaml
                        ),
                    )
                )
            except ContentError as exc:
                log.error(
                    "gateway.published_content_invalid",
                    service=self.service,
                    version=label,
                    error=str(exc),
                )
        if self.seed.content is not None:
            contents.append(self.seed.content)
        return menus, contents

    def _current(self) -> tuple[str, str]:
        return self.live.version, self.live.content_version

    async def refresh(self) -> bool:
        """Serve the newest valid combination; True when the live tree changed."""
        async with self._lock:
            menus, contents = await self._halves()
            if not menus or not contents:
                return False
            wanted = (menus[0].label, contents[0].label)
            if wanted == self._current():
                return False
            for menu in menus:
                for content in contents:
                    if (menu.label, content.label) == self._current():
                        return False  # the best valid one is already live
                    labels = (menu.label, content.label)
                    if labels in self._refused:
                        continue
                    tree = self._held.get(labels)
                    if tree is None:
                        # Validation takes seconds on a big tree: off the event loop.
                        tree, problems = await asyncio.to_thread(
                            build, menu, content, self.limit, self.seed.country_aliases
                        )
                        if tree is None:
                            self._refused.add(labels)
                            log.error(
                                "gateway.version_not_served",
                                service=self.service,
                                menu=menu.label,
                                content=content.label,
                                problems=len(problems),
                                first=str(problems[0]) if problems else "",
                            )
                            continue
                    why = self.refusal(tree) if self.refusal is not None else ""
                    if why:
                        if labels not in self._held:
                            log.error(
                                "gateway.version_not_served",
                                service=self.service,
                                menu=menu.label,
                                content=content.label,
                                problems=1,
                                first=why,
                            )
                        if len(self._held) >= HELD_VERSIONS:
                            self._held.clear()
                        self._held[labels] = tree
                        continue
                    self._held.pop(labels, None)
                    self.live.swap(tree, menu.label, content.label)
                    log.info(
                        "gateway.serving",
                        service=self.service,
                        menu=menu.label,
                        content=content.label,
                    )
                    return True
            return False

    async def follow_now(self, service: str = "") -> None:
        """Look at the store now rather than at the next poll (after a publish)."""
        await self.refresh()

    async def run(self, interval: float | None = None) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS if interval is None else interval)
            try:
                await self.refresh()
            except Exception as exc:  # the store away for a moment: try again next round
                log.warning("gateway.publish_poll_failed", error=type(exc).__name__)


async def open_live_tree(
    settings: Settings, store: Store, adapt: Callable[[Tree], Tree] | None = None
) -> tuple[LiveTree, PublishedFollower]:
    """The tree to serve at boot, or :class:`TreeError` naming ``file:line`` when nothing
    valid exists (files broken and no valid published version)."""
    seed = read_seed(settings, Limit(settings.screen_limit))
    live, follower = await open_served(settings, store, seed, adapt)
    if live.version == "none":
        raise TreeError(list(seed.problems) or [Problem(str(settings.menus), 0, "", "no tree")])
    return live, follower


async def open_served(
    settings: Settings,
    store: Store,
    seed: Seed,
    adapt: Callable[[Tree], Tree] | None = None,
    service: str = "",
    refusal: Callable[[Tree], str] | None = None,
) -> tuple[LiveTree, PublishedFollower]:
    """One service's live tree on the newest valid version of its menu and content: its
    ``version`` is "none" when nothing valid exists (the caller decides: the default's
    boot fails, another service is down). When the files fail but a published version
    is served, :attr:`LiveTree.warning` says so, and an error log line."""
    placeholder = LiveTree(Tree("", (), "", "", "", {}, {}, {}), "none", "none", adapt=adapt)
    follower = PublishedFollower(settings, store, placeholder, seed, service)
    follower.refusal = refusal
    await follower.refresh()
    if placeholder.version != "none" and seed.problems:
        whose = f"Service {service}: the files" if service else "The files"
        folder = seed.folder or settings.content
        placeholder.warning = (
            f"{whose} under {settings.menus} and {folder} do not validate "
            f"({len(seed.problems)} problem(s); first: {seed.problems[0]}). Serving the "
            f"published menu {placeholder.version} with content {placeholder.content_version} "
            "from the store instead; fix the files before the next seed or export."
        )
        log.error(
            "gateway.files_invalid_serving_published",
            service=service,
            menu=placeholder.version,
            content=placeholder.content_version,
            problems=[str(problem) for problem in seed.problems[:10]],
        )
    return placeholder, follower


class ServiceFollowers:
    """Every service's follower, by tree id (the default's first): a publish refreshes
    the followers it concerns; one poll loop refreshes them all."""

    def __init__(self, followers: Mapping[str, PublishedFollower]) -> None:
        self.followers = dict(followers)

    @classmethod
    def of(cls, follower: PublishedFollower | ServiceFollowers) -> ServiceFollowers:
        if isinstance(follower, ServiceFollowers):
            return follower
        return cls({follower.service: follower})

    @property
    def default(self) -> PublishedFollower:
        return next(iter(self.followers.values()))

    def for_menu(self, menu_name: str) -> PublishedFollower:
        """The follower of the service whose menu is ``menu_name`` (else the default's)."""
        found = [f for f in self.followers.values() if f.seed.menu_name == menu_name]
        return found[0] if found else self.default

    async def menu_published(self, menu_name: str) -> PublishedFollower:
        follower = self.for_menu(menu_name)
        await follower.refresh()
        return follower

    async def content_changed(self, service: str = "") -> None:
        """Refresh the services that serve ``service``'s content (its own, or the default
        content it shares with the default and the others without a folder of their own)."""
        owner = self.followers.get(service) or self.default
        for follower in self.followers.values():
            if follower.seed.content_name == owner.seed.content_name:
                await follower.refresh()

    async def refresh(self) -> None:
        for follower in self.followers.values():
            await follower.refresh()

    async def run(self, interval: float | None = None) -> None:
        while True:
            await asyncio.sleep(POLL_SECONDS if interval is None else interval)
            for follower in self.followers.values():
                try:
                    await follower.refresh()
                except Exception as exc:  # the store away for a moment: try again next round
                    log.warning(
                        "gateway.publish_poll_failed",
                        service=follower.service,
                        error=type(exc).__name__,
                    )


@contextlib.asynccontextmanager
async def following(follower: PublishedFollower | ServiceFollowers) -> AsyncIterator[None]:
    """Poll the store in the background while the block runs."""
    task = asyncio.create_task(follower.run(), name="published-follower")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
