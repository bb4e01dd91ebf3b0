"""Every other service's served tree at boot, and the followers that keep each on its
newest valid published version.

The default service is opened first (:func:`gateway.server.published.open_live_tree`:
nothing valid refuses the boot). Each other tree in ``GATEWAY_MENUS`` is then opened the
same way, from its own file, its own content (``content: <folder>``; none: the
default's) and the store's published versions of both, with one difference: a service
with nothing valid to serve is marked down (its codes get the polite "unavailable"
screen, the reason names ``file:line``) and the others are served. A down service comes
up by itself once a valid version is published.

The service map is built from what is served (a published version may have changed a
service's codes): files whose codes do not say which tree answers what (two defaults,
a code claimed twice) still stop the boot; a published version whose codes clash with
the others' marks its own service down instead. After the boot, a version whose codes would clash
with another service's is not swapped in (:meth:`ServedTrees.refusal`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import structlog

from gateway.content.document import content_versions_of
from gateway.menu.loader import Problem, TreeError
from gateway.menu.model import Tree
from gateway.menu.pages import Limit
from gateway.menu.services import ServiceMap, ServiceMapError, build_service_map
from gateway.server.live_tree import (
    DOWN_CODE_PREFIX,
    LiveTree,
    ServedTrees,
    content_folder,
    raw_top,
    tree_file,
    tree_files,
    tree_id_of,
)
from gateway.server.published import (
    PublishedFollower,
    ServiceFollowers,
    open_served,
    read_seed,
)
from gateway.settings import Settings
from gateway.store.port import Store

log = structlog.get_logger("gateway.server.service_trees")


@dataclass(frozen=True)
class OpenedServices:
    served: ServedTrees
    followers: ServiceFollowers
    content: dict[str, Path]  # tree id -> its content folder (every other service)


async def open_services(
    settings: Settings,
    store: Store,
    live: LiveTree,
    follower: PublishedFollower,
    adapt: Callable[[Tree], Tree] | None = None,
) -> OpenedServices:
    default_path = tree_file(settings)
    default_id = live.current.id
    follower.service = default_id
    limit = Limit(settings.screen_limit)
    others: dict[str, LiveTree] = {}
    followers: dict[str, PublishedFollower] = {default_id: follower}
    down: dict[str, str] = {}
    folders: dict[str, Path] = {}
    own_content: dict[str, str] = {}
    files: dict[str, Path] = {default_id: default_path}
    claims: list[tuple[str, str, Sequence[str]]] = [(default_id, str(default_path), ())]
    for path in tree_files(settings):
        if path == default_path:
            continue
        tree_id = tree_id_of(path)
        folder = content_folder(settings, path)
        own = folder != settings.content
        seed = read_seed(settings, limit, path, folder, content_versions_of(tree_id if own else ""))
        other, other_follower = await open_served(settings, store, seed, adapt, tree_id)
        others[tree_id], followers[tree_id] = other, other_follower
        folders[tree_id], files[tree_id] = folder, path
        if own:
            own_content[tree_id] = folder.name
        if other.version == "none":
            first = seed.problems[0] if seed.problems else Problem(str(path), 0, "", "no tree")
            down[tree_id] = str(first)
            claims.append((tree_id, str(path), _file_codes(path, tree_id)))
            continue
        if other.current.id != tree_id:
            down[tree_id] = f"{path}: its served tree says tree: {other.current.id!r}"
            claims.append((tree_id, str(path), _file_codes(path, tree_id)))
            continue
        claims.append((tree_id, str(path), other.current.service_codes))
    published = {tree_id: other.version for tree_id, other in others.items()
                 if tree_id not in down and other.version != "file"}  # fmt: skip
    try:
        services = _map_holding_back_clashes(claims, published, down)
    except ServiceMapError as exc:
        raise TreeError([Problem(str(settings.menus), 0, "", str(exc))]) from None
    served = ServedTrees(live, others, services, down, files, own_content)
    for tree_id, each in followers.items():
        each.refusal = served.refusal(tree_id)
    return OpenedServices(served, ServiceFollowers(followers), folders)


def _map_holding_back_clashes(
    claims: Sequence[tuple[str, str, Sequence[str]]],
    published: dict[str, str],
    down: dict[str, str],
) -> ServiceMap:
    """The service map of ``claims``; when a service's published version (``published``:
    tree id -> its version) claims codes another service answers, that service is marked
    down in ``down`` instead of stopping the boot: the files' claims are taken first
    (they must agree, else :class:`ServiceMapError` stops the boot, as a deploy that
    gives two trees one code does), then each published version's in order. At run time
    such a version is never swapped in (:meth:`ServedTrees.refusal`); one that reached
    the store by a race would otherwise leave a gateway that cannot start, and with it
    the console where the fix is published. The down service comes up once a version
    without the clash is published."""
    try:
        return build_service_map(claims)
    except ServiceMapError:
        pass
    kept = [claim for claim in claims if claim[0] not in published]
    build_service_map(kept)
    for claim in claims:
        if claim[0] not in published:
            continue
        try:
            build_service_map([*kept, claim])
        except ServiceMapError as exc:
            tree_id = claim[0]
            down[tree_id] = (
                f"{claim[1]}: its published version {published[tree_id]} is not served: {exc}; "
                "publish a version without the clash"
            )
            kept.append(_down_claim(kept, tree_id, claim[1]))
            continue
        kept.append(claim)
    order = [claim[0] for claim in claims]
    return build_service_map(sorted(kept, key=lambda claim: order.index(claim[0])))


def _down_claim(
    kept: Sequence[tuple[str, str, Sequence[str]]], tree_id: str, source: str
) -> tuple[str, str, Sequence[str]]:
    """A held-back service's claim: its file's codes where no other service answers them
    (its callers get the polite "unavailable" screen, not another menu), else none."""
    codes = _file_codes(Path(source), tree_id)
    try:
        build_service_map([*kept, (tree_id, source, codes)])
    except ServiceMapError:
        return (tree_id, source, (f"{DOWN_CODE_PREFIX}{tree_id}",))
    return (tree_id, source, codes)


def _file_codes(path: Path, tree_id: str) -> tuple[str, ...]:
    """A down service's codes, read from its file as far as it reads (so they get the
    "unavailable" screen, never another service's menu); a file that cannot be read
    claims no code, and must not become a second default either."""
    raw_codes = (raw_top(path) or {}).get("service_codes")
    if isinstance(raw_codes, list) and raw_codes:
        return tuple(str(code) for code in raw_codes)
    return (f"{DOWN_CODE_PREFIX}{tree_id}",)
