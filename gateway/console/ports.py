"""What the console needs from the rest of the gateway.

The console keeps nothing of its own: accounts, menu versions, alerts and the audit
log live in the store (:mod:`gateway.store`, its ``ConsoleStore``, ``AuditStore``,
``BroadcastStore`` and ``SubscriberStore`` ports); the live menu and the SMSC links
belong to the running gateway, which hands the console these callables.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from gateway.content.country_aliases import CountryAliases
from gateway.sms.channel_status import ChannelStatus

# The gateway's hook to swap the live menu tree once a version is published: it gets
# the menu's name, the published YAML text and the version id.
PublishHook = Callable[[str, str, int], Awaitable[None]]
# The SMSC links and their states ("bound", "connecting", "down"), for the dashboard.
LinkStates = Callable[[], Mapping[str, str]]
# Called after a content version of a service (its tree id) was published or rolled
# back, so the gateway serves the new entries: that service's content only (and the
# services that share the default's content, when it is the default's).
ContentHook = Callable[[str], Awaitable[None]]
# Each SMS channel of the running gateway and whether it can send now: named on the
# dashboard and on every alert; Send is refused when none can.
ChannelStates = Callable[[], Sequence[ChannelStatus]]
# Each route of the SMPP pool: its targets up or down, the current one, the counts
# (``SMPPPool.route_status()``), for the dashboard.
RouteStates = Callable[[], Sequence[Mapping[str, Any]]]


@dataclass(frozen=True)
class ConsoleHooks:
    """The running gateway's hooks; a console without them (a test) edits the store only."""

    publish: PublishHook | None = None
    content_changed: ContentHook | None = None
    link_states: LinkStates | None = None
    channel_states: ChannelStates | None = None
    route_states: RouteStates | None = None
    # Why the gateway serves something other than its files ("" when it does not):
    # shown as a banner on every console page.
    serving_warning: Callable[[], str] | None = None
    # The country aliases the gateway reads callers' input with (its seed's): the
    # console's checks and simulator use the same ones.
    country_aliases: Callable[[], CountryAliases] | None = None
    # The services of this gateway (several trees in menus/), the default first; none:
    # the one default service.
    services: Callable[[], Sequence[ServiceInfo]] | None = None


@dataclass(frozen=True)
class ServiceInfo:
    """One service as the console shows it."""

    id: str  # its tree id: what operators read, and the metrics' label
    key: str  # its key in the store ("" for the default)
    codes: tuple[str, ...] = ()
    down: str = ""  # why it is down ("" while it is served): a banner on every page
    menu: str = ""  # its menu's name in the console (the tree file's stem)
    # Its own content folder under GATEWAY_CONTENT (``content: work-rights`` in its tree),
    # edited and published in the console as its own; "": it shares the default's.
    content: str = ""

    @property
    def default(self) -> bool:
        return self.key == ""


DEFAULT_SERVICE = ServiceInfo("default", "")
