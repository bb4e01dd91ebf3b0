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

Every worker polls the store (:meth:`PublishedFollower.run`, every
:data:`POLL_SECONDS`): a publish made through any worker reaches all of them within
that time, without a restart. A published version that does not validate with the
other half is never swapped in; the worker keeps serving what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass

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


def read_seed(settings: Settings, limit: Limit) -> Seed:
    problems: list[Problem] = []
    menu: MenuHalf | None = None
    content: ContentHalf | None = None
    try:
        path = tree_file(settings)
        menu_name = path.stem
        menu = MenuHalf("file", path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError) as exc:
        menu_name = settings.menus.stem
        problems.append(Problem(str(settings.menus), 0, "", f"cannot read the tree: {exc}"))
    try:
        content = ContentHalf("files", load_catalogs(settings.content))
    except (ContentError, OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(settings.content), 0, "", str(exc)))
    aliases: tuple[tuple[str, str], ...] = ()
    try:
        aliases = load_country_aliases(settings.content)
    except (ContentError, OSError, UnicodeDecodeError) as exc:
        problems.append(Problem(str(settings.content), 0, "", str(exc)))
    if menu is not None and content is not None:
        _, found = build(menu, content, limit, aliases)
        problems += found
    return Seed(menu_name, menu, content, tuple(problems), aliases)


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
    """Keeps a :class:`LiveTree` on the newest valid published menu and content."""

    def __init__(self, settings: Settings, store: Store, live: LiveTree, seed: Seed) -> None:
        self.settings = settings
        self.store = store
        self.live = live
        self.seed = seed
        self.limit = Limit(settings.screen_limit)
        self._lock = asyncio.Lock()
        self._refused: set[tuple[str, str]] = set()  # combinations that failed: not retried

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
        published_content = await self.store.published_menu(content_document.CONTENT_VERSIONS)
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
                log.error("gateway.published_content_invalid", version=label, error=str(exc))
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
                    if (menu.label, content.label) in self._refused:
                        continue
                    # Validation takes seconds on a big tree: off the event loop.
                    tree, problems = await asyncio.to_thread(
                        build, menu, content, self.limit, self.seed.country_aliases
                    )
                    if tree is None:
                        self._refused.add((menu.label, content.label))
                        log.error(
                            "gateway.version_not_served",
                            menu=menu.label,
                            content=content.label,
                            problems=len(problems),
                            first=str(problems[0]) if problems else "",
                        )
                        continue
                    self.live.swap(tree, menu.label, content.label)
                    log.info("gateway.serving", menu=menu.label, content=content.label)
                    return True
            return False

    async def follow_now(self) -> None:
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
    limit = Limit(settings.screen_limit)
    seed = read_seed(settings, limit)
    placeholder = LiveTree(Tree("", (), "", "", "", {}, {}, {}), "none", "none", adapt=adapt)
    follower = PublishedFollower(settings, store, placeholder, seed)
    await follower.refresh()
    if placeholder.version == "none":
        raise TreeError(list(seed.problems) or [Problem(str(settings.menus), 0, "", "no tree")])
    if seed.problems:
        placeholder.warning = (
            f"The files under {settings.menus} and {settings.content} do not validate "
            f"({len(seed.problems)} problem(s); first: {seed.problems[0]}). Serving the "
            f"published menu {placeholder.version} with content {placeholder.content_version} "
            "from the store instead; fix the files before the next seed or export."
        )
        log.error(
            "gateway.files_invalid_serving_published",
            menu=placeholder.version,
            content=placeholder.content_version,
            problems=[str(problem) for problem in seed.problems[:10]],
        )
    return placeholder, follower


@contextlib.asynccontextmanager
async def following(follower: PublishedFollower) -> AsyncIterator[None]:
    """Poll the store in the background while the block runs."""
    task = asyncio.create_task(follower.run(), name="published-follower")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
