"""The dashboard: traffic, drop-off, subscribers, SMSC links and stale content.

Aggregates only: counts per day, per screen, per topic. No number, no list of people.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter

from aiohttp import web

from gateway.console.charts import bar_chart, column_chart
from gateway.console.content_source import live_content
from gateway.console.context import context, render
from gateway.console.freshness import freshness
from gateway.console.service_scope import chosen_service
from gateway.console.views.alerts import vocabulary
from gateway.sms.channel_status import refusal
from gateway.store.records import Audience

DAYS = 14


async def dashboard(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    chosen = chosen_service(request)
    today = dt.datetime.fromtimestamp(ctx.now(), dt.UTC).date()
    since = today - dt.timedelta(days=DAYS - 1)
    ends = await ctx.backend.session_end_counts(since.isoformat(), chosen.key)
    per_day: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    for row in ends:
        per_day[row.day] += row.count
        if row.status.lower() != "success":
            dropped[row.screen_id] += row.count
    days = [(since + dt.timedelta(days=i)).isoformat() for i in range(DAYS)]
    sessions_chart = column_chart([(day, per_day[day]) for day in days], "Sessions per day")
    drop_chart = bar_chart(dropped.most_common(12), "Sessions that dropped, by last screen")
    topics = await ctx.backend.topic_counts(chosen.key)
    topics_chart = bar_chart(sorted(topics.items(), key=lambda kv: -kv[1]), "Subscribers per topic")
    # Subscribers per language: the store's audience count over every topic, one
    # language at a time (an aggregate; never a list).
    languages_chart = None
    if topics:
        languages, _, _ = await vocabulary(ctx, chosen)
        per_language = [
            (
                lang,
                await ctx.backend.audience_size(Audience(tuple(topics), (), (lang,), chosen.key)),
            )
            for lang in languages
        ]
        languages_chart = bar_chart(
            sorted(per_language, key=lambda kv: -kv[1]), "Subscribers per language"
        )
    link_states = ctx.hooks.link_states
    links = dict(link_states()) if link_states else {}
    channel_states = ctx.hooks.channel_states
    channels = list(channel_states()) if channel_states else None
    route_states = ctx.hooks.route_states
    routes = list(route_states()) if route_states else []
    # The chosen service's content: its own, or the default's it shares.
    live = await live_content(request)
    fresh = freshness(live.catalogs, today, ctx.settings.stale_after_days)
    return render(
        request,
        "dashboard.html",
        {
            "links": links,
            "routes": routes,
            "channels": channels,
            "cannot_send": refusal(channels) if channels is not None else None,
            "sessions_chart": sessions_chart,
            "sessions_total": sum(per_day.values()),
            "drop_chart": drop_chart,
            "topics_chart": topics_chart,
            "languages_chart": languages_chart,
            "fresh": fresh,
            "stale_after_days": ctx.settings.stale_after_days,
            "catalog_error": live.error,
        },
    )


def add_routes(app: web.Application) -> None:
    app.router.add_get("/", dashboard, name="dashboard")
