"""The content the console works from: the live (published) version, the open draft,
and the check of a draft against every menu, as the gateway would serve them.

Each service's content is its own when its tree names a folder of its own
(``content: work-rights``): versions under ``~content:<tree id>``
(:func:`~gateway.content.document.content_versions_of`), seeded from that folder.
The default service's content, which every service without a folder of its own
shares, is under :data:`~gateway.content.document.CONTENT_VERSIONS`, seeded from
``content/``. The files are read, never written. A content draft is checked with the
live tree (its published version, else its file) of each menu that serves it, and a
menu draft with its service's live content: tree and content together, every
language, every caller country, by the gateway's own validator.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web

from gateway.console import menu_draft
from gateway.console.context import ConsoleContext, context
from gateway.console.menu_check import CheckedDraft, check, menu_files
from gateway.console.ports import DEFAULT_SERVICE, ServiceInfo
from gateway.console.service_scope import chosen_service, services_of
from gateway.content import document as content_document
from gateway.content.catalog import Catalog, ContentError, load_catalogs
from gateway.content.country_aliases import CountryAliases, load_country_aliases
from gateway.content.document import Document, content_versions_of
from gateway.menu.loader import Problem
from gateway.menu.pages import Limit
from gateway.server.live_tree import content_folder, raw_top, tree_file, tree_files, tree_id_of
from gateway.settings import Settings
from gateway.store.port import Store
from gateway.store.records import MenuVersion


@dataclass(frozen=True)
class ContentState:
    document: Document
    catalogs: dict[str, Catalog]
    version: MenuVersion | None  # the published content version; None: the seed files
    error: str = ""  # why the live content could not be read (shown, never a 500)

    @property
    def label(self) -> str:
        return f"content v{self.version.id}" if self.version else "the shipped files"


@dataclass
class _Seed:
    stamp: tuple[tuple[str, float], ...] = ()
    state: ContentState | None = None


def _stamp(directory: Path) -> tuple[tuple[str, float], ...]:
    if not directory.is_dir():
        return ()
    return tuple(sorted((p.name, p.stat().st_mtime) for p in directory.glob("*.yaml")))


def state_of(version: MenuVersion) -> ContentState:
    source = f"content v{version.id}"
    try:
        document = content_document.parse(version.tree_yaml, source)
        return ContentState(
            document, content_document.catalogs(document, source, version.tree_yaml), version
        )
    except ContentError as exc:
        return ContentState({}, {}, version, str(exc))


@dataclass
class ContentCheck:
    """A content document checked with every menu: problems per menu, per screen."""

    problems: list[Problem]
    by_menu: dict[str, CheckedDraft]
    error: str = ""  # the document itself does not parse (names entry and line)

    @property
    def publishable(self) -> bool:
        return not self.error and not self.problems


@dataclass
class ContentSource:
    """One service's content, and the menus it serves, as the store and the seed files
    hold them (for the console's pages and the command line alike)."""

    store: Store
    settings: Settings
    service: ServiceInfo = DEFAULT_SERVICE
    # Every service of the gateway (which menu is whose; the codes a publish must not
    # take from another service); none known: the default alone, every menu its own.
    services: Sequence[ServiceInfo] = (DEFAULT_SERVICE,)
    seed: _Seed = field(default_factory=_Seed)
    published: tuple[int, ContentState] | None = None
    memo: dict[tuple[str, str, str, int], CheckedDraft] = field(default_factory=dict)
    # The running gateway's country aliases (read with its seed at boot); without a
    # gateway (the command line, a test), read from content/ once, the same way.
    country_aliases: Callable[[], CountryAliases] | None = None
    read_aliases: CountryAliases | None = None
    aliases_error: str = ""

    @property
    def limit(self) -> Limit:
        return Limit(gsm7=self.settings.screen_limit)

    @property
    def own(self) -> bool:
        """Whether the service has content of its own (else it shares the default's)."""
        return bool(self.service.content) and not self.service.default

    @property
    def name(self) -> str:
        """Its content versions' name in the store."""
        return content_versions_of(self.service.id if self.own else "")

    @property
    def folder(self) -> Path:
        """Its seed folder."""
        return self.settings.content / self.service.content if self.own else self.settings.content

    @property
    def target(self) -> str:
        """The audit rows' target for its content."""
        return f"content:{self.service.id}" if self.own else "content"

    def aliases(self) -> CountryAliases:
        """The country aliases callers' input is read with, as the live gateway has them."""
        if self.country_aliases is not None and not self.own:
            return self.country_aliases()
        if self.read_aliases is None:
            try:
                self.read_aliases = load_country_aliases(self.folder)
            except (ContentError, OSError, UnicodeDecodeError) as exc:
                self.read_aliases, self.aliases_error = (), str(exc)
        return self.read_aliases

    def _seed_state(self) -> ContentState:
        stamp = _stamp(self.folder)
        if self.seed.state is None or stamp != self.seed.stamp:
            try:
                document = content_document.read_files(self.folder)
                catalogs = load_catalogs(self.folder)
                self.seed.state = ContentState(document, catalogs, None)
            except (ContentError, OSError, UnicodeDecodeError) as exc:
                self.seed.state = ContentState({}, {}, None, str(exc))
            self.seed.stamp = stamp
        return self.seed.state

    async def versions(self) -> list[MenuVersion]:
        versions: list[MenuVersion] = await self.store.list_menu_versions(self.name)
        return sorted(versions, key=lambda version: version.id, reverse=True)

    async def live(self) -> ContentState:
        """What callers get now: the published content version, else the seed files."""
        published = await self.store.published_menu(self.name)
        if published is None:
            return self._seed_state()
        if self.published is None or self.published[0] != published.id:
            self.published = (published.id, state_of(published))
        return self.published[1]

    def owner(self, menu: str) -> ServiceInfo:
        """The service whose menu is ``menu`` (a file no service names: the default's)."""
        return next((s for s in self.services if s.menu == menu), DEFAULT_SERVICE)

    def serves(self, menu: str) -> bool:
        """Whether ``menu`` shows this content (its service's own, or the shared one)."""
        owner = self.owner(menu)
        own = bool(owner.content) and not owner.default
        return content_versions_of(owner.id if own else "") == self.name

    async def menus(self) -> dict[str, str]:
        """The live text of every menu that serves this content: its published version,
        else its file."""
        menus: dict[str, str] = {}
        for name, path in menu_files(self.settings.menus).items():
            if not self.serves(name):
                continue
            published = await self.store.published_menu(name)
            menus[name] = (
                published.tree_yaml if published is not None else path.read_text(encoding="utf-8")
            )
        return menus

    async def check_menu(
        self, name: str, text: str, catalogs: dict[str, Catalog], content_key: str
    ) -> CheckedDraft:
        """:func:`check`, remembered per (menu text, content) and run in a worker thread:
        validating every page in every language for every caller country takes seconds
        on a big tree, and the event loop keeps answering callers meanwhile."""
        aliases = self.aliases()
        key = (name, _digest(text), content_key, hash(aliases))
        found = self.memo.get(key)
        if found is None:
            found = await asyncio.to_thread(check, text, name, catalogs, self.limit, aliases)
            if len(self.memo) >= MEMO_SIZE:
                self.memo.pop(next(iter(self.memo)))
            self.memo[key] = found
        return found

    async def check_with_live_content(self, name: str, text: str) -> CheckedDraft:
        live = await self.live()
        content_key = (
            f"v{live.version.id}" if live.version else f"files{self.folder}{self.seed.stamp}"
        )
        return await self.check_menu(name, text, live.catalogs, content_key)

    async def check(self, document: Document, source: str) -> ContentCheck:
        """``document`` with every menu's live tree, by the gateway's own validator."""
        text = content_document.dump(document)
        try:
            catalogs = content_document.catalogs(document, source, text)
        except ContentError as exc:
            return ContentCheck([], {}, str(exc))
        by_menu: dict[str, CheckedDraft] = {}
        problems: list[Problem] = []
        for name, menu_text in (await self.menus()).items():
            checked = await self.check_menu(name, menu_text, catalogs, _digest(text))
            by_menu[name] = checked
            problems += checked.problems
        return ContentCheck(problems, by_menu)


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


MEMO_SIZE = 16


async def stored_services(settings: Settings, store: Store) -> list[ServiceInfo]:
    """The services as a process without a running gateway (the command line) sees them:
    every tree file, its codes as its newest published version says (else its file),
    its own content folder; the default first."""
    default = tree_file(settings)
    found: list[ServiceInfo] = []
    for path in tree_files(settings):
        data: object = raw_top(path) or {}
        published = await store.published_menu(path.stem)
        if published is not None:
            with contextlib.suppress(menu_draft.DraftError):
                data = menu_draft.parse(published.tree_yaml)
        codes = data.get("service_codes") if isinstance(data, dict) else None
        folder = content_folder(settings, path)
        tree_id = tree_id_of(path)
        own = folder.name if folder != settings.content and path != default else ""
        info = ServiceInfo(
            tree_id,
            "" if path == default else tree_id,
            tuple(str(code) for code in codes) if isinstance(codes, list) else (),
            menu=path.stem,
            content=own,
        )
        found.insert(0 if path == default else len(found), info)
    return found


def source_of(ctx: ConsoleContext, service: ServiceInfo | None = None) -> ContentSource:
    """The content source of ``service`` (the default's unless given), kept per console
    (its memo of checks and its read seed live as long as the console)."""
    services = services_of(ctx)
    service = service or next((s for s in services if s.default), DEFAULT_SERVICE)
    sources = ctx.extras.setdefault("content_sources", {})
    source = sources.get(service.id)
    if not isinstance(source, ContentSource):
        source = sources[service.id] = ContentSource(
            ctx.backend, ctx.settings, service, services, country_aliases=ctx.hooks.country_aliases
        )
    # The services as the gateway serves them now (a publish may change their codes).
    source.service, source.services = service, services
    return source


def source_for(request: web.Request) -> ContentSource:
    """The content of the service the request is about."""
    return source_of(context(request), chosen_service(request))


def menu_source(ctx: ConsoleContext, name: str) -> ContentSource:
    """The content source of the service whose menu is ``name``."""
    default = source_of(ctx)
    owner = default.owner(name)
    return default if owner.default or owner == DEFAULT_SERVICE else source_of(ctx, owner)


async def content_versions(request: web.Request) -> list[MenuVersion]:
    return await source_for(request).versions()


async def live_content(request: web.Request) -> ContentState:
    return await source_for(request).live()


async def live_menus(request: web.Request) -> dict[str, str]:
    """The live text of every menu that serves the chosen service's content."""
    return await source_for(request).menus()


async def check_content(request: web.Request, document: Document, source: str) -> ContentCheck:
    return await source_for(request).check(document, source)


async def check_menu_text(ctx: ConsoleContext, text: str, name: str) -> CheckedDraft:
    """A menu text with its service's live content, as the console's menu pages show it."""
    return await menu_source(ctx, name).check_with_live_content(name, text)
