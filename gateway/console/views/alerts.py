"""Alerts: compose (per language, with SMS cost and a warning on sensitive opening
words), approve by a second person, send, pause, cancel, and watch progress.

Every transition goes through :class:`gateway.broadcast.alert_service.AlertService`, which
checks the rules (the author never approves, an expired alert never sends) and
writes the audit entry; this module only turns forms into calls and errors into
messages. The audience is shown as a count, never as numbers.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp import web
from multidict import MultiDict

from gateway.broadcast.alert_service import AlertDraft, AlertService
from gateway.broadcast.errors import BroadcastError, BroadcastNotFound
from gateway.broadcast.text import compose, sensitive_opening
from gateway.console import publishing
from gateway.console.charts import line_chart
from gateway.console.content_source import source_for
from gateway.console.context import (
    ConsoleContext,
    context,
    current_role,
    redirect,
    render,
    signed_in_user,
)
from gateway.console.menu_check import menu_files
from gateway.console.ports import DEFAULT_SERVICE, ServiceInfo
from gateway.console.progress import Timelines, progress_of
from gateway.console.roles import Permission, allows
from gateway.console.security import require_fresh_auth, requires
from gateway.console.service_scope import chosen_service
from gateway.console.sms_budget import sms_cost
from gateway.content.safe_yaml import YAMLRefused, load_yaml
from gateway.sms.channel_status import ChannelStatus, refusal, summary
from gateway.store.records import UNKNOWN_REGION, Audience

EXPIRY_HOURS = (6, 12, 24, 48, 72, 168)


def service(ctx: ConsoleContext) -> AlertService:
    return ctx.alerts


def timelines(ctx: ConsoleContext) -> Timelines:
    return ctx.timelines


async def vocabulary(
    ctx: ConsoleContext, service: ServiceInfo = DEFAULT_SERVICE
) -> tuple[list[str], str, list[str]]:
    """(languages, fallback language, topics) of the service's live menu: what its
    callers subscribe to."""
    languages: list[str] = []
    topics: set[str] = set()
    fallback = ctx.settings.default_language
    files = menu_files(ctx.settings.menus)
    if service.menu in files:
        files = {service.menu: files[service.menu]}
    for name, path in files.items():
        published = await ctx.backend.published_menu(name)
        text = published.tree_yaml if published else path.read_text(encoding="utf-8")
        try:
            data = load_yaml(text, name)
        except YAMLRefused:
            continue
        if not isinstance(data, dict):
            continue
        languages += [str(lang) for lang in data.get("languages") or [] if lang not in languages]
        fallback = str(data.get("fallback_language") or fallback)
        for screen in (data.get("screens") or {}).values():
            if isinstance(screen, dict) and screen.get("action") == "subscribe":
                topics.add(str(screen.get("topic", "")))
    topics |= set(await ctx.backend.topic_counts(service.key))
    return languages or [fallback], fallback, sorted(t for t in topics if t)


def _may_act(role: str | None) -> bool:
    return allows(role, Permission.EDIT) or allows(role, Permission.APPROVE)


async def alerts_index(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    alerts = await service(ctx).list(limit=100, service=chosen_service(request).key)
    rows = [(alert, progress_of(alert.state, alert.audience, alert.counts)) for alert in alerts]
    return render(request, "alerts.html", {"rows": rows})


def _form_values(form: Any, languages: list[str]) -> dict[str, Any]:
    return {
        "texts": {lang: str(form.get(f"text.{lang}", "")) for lang in languages},
        "topics": [str(t) for t in form.getall("topic", [])],
        "only_languages": [str(t) for t in form.getall("only_language", [])],
        "regions": str(form.get("regions", "")),
        "include_unknown": str(form.get("include_unknown", "")) == "1",
        "source": str(form.get("source", "")),
        "expires_hours": str(form.get("expires_hours", "24")),
    }


async def _compose_page(
    request: web.Request, values: dict[str, Any], error: str = "", status: int = 200
) -> web.StreamResponse:
    ctx = context(request)
    languages, fallback, topics = await vocabulary(ctx, chosen_service(request))
    prefix = ctx.settings.sms_prefix
    costs, warnings = {}, {}
    for lang, text in values["texts"].items():
        if text.strip():
            costs[lang] = sms_cost(compose(prefix, text)).describe()
            words = sensitive_opening(text, prefix)
            if words:
                warnings[lang] = words
    audience = None
    if values["topics"]:
        audience = await _audience_text(ctx, _audience(values, chosen_service(request).key))
    return render(
        request,
        "alert_new.html",
        {
            "languages": languages,
            "fallback": fallback,
            "topics": topics,
            "values": values,
            "costs": costs,
            "warnings": warnings,
            "audience": audience,
            "error": error,
            "prefix": prefix,
            "expiry_hours": EXPIRY_HOURS,
        },
        status=status,
    )


def _audience(values: dict[str, Any], service: str) -> Audience:
    regions = tuple(r.strip().upper() for r in values["regions"].split(",") if r.strip())
    if regions and values["include_unknown"]:
        regions += (UNKNOWN_REGION,)
    return Audience(tuple(values["topics"]), regions, tuple(values["only_languages"]), service)


async def _audience_text(ctx: Any, audience: Audience) -> str:
    """The count an operator approves, and, for an audience limited to some countries,
    how many subscribers have no known country and whether they are in it."""
    count = await ctx.backend.audience_size(audience)
    text = f"{count} subscribers would receive it."
    if audience.known_regions:
        unknown = await ctx.backend.audience_size(replace(audience, regions=(UNKNOWN_REGION,)))
        known = count - unknown if audience.includes_unknown_region else count
        text = (
            f"{count} subscribers would receive it: {known} in "
            f"{', '.join(audience.known_regions)}, and {unknown} whose country is unknown "
            f"{'(included)' if audience.includes_unknown_region else '(not included)'}."
        )
    return text


@requires(Permission.EDIT)
async def compose_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    languages, _, _ = await vocabulary(ctx, chosen_service(request))
    return await _compose_page(request, _form_values(MultiDict(), languages))


@requires(Permission.EDIT)
async def compose_submit(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    form = await request.post()
    languages, fallback, _ = await vocabulary(ctx, chosen_service(request))
    values = _form_values(form, languages)
    if form.get("action") != "create":
        return await _compose_page(request, values)
    hours = int(values["expires_hours"]) if values["expires_hours"].isdigit() else 24
    audience = _audience(values, chosen_service(request).key)
    draft = AlertDraft(
        texts={lang: text for lang, text in values["texts"].items() if text.strip()},
        fallback_language=fallback,
        topics=audience.topics,
        source=values["source"],
        author=signed_in_user(request),
        expires_at=ctx.now() + min(hours, 24 * 14) * 3600,
        regions=audience.regions,
        languages=audience.languages,
        service=audience.service,
    )
    try:
        alert_id = await service(ctx).create(draft, ctx.now())
    except BroadcastError as exc:
        return await _compose_page(request, values, error=str(exc), status=400)
    return redirect(request, f"/alerts/{alert_id}", flash="Saved. Another person must approve it.")


async def _alert_id(request: web.Request) -> int:
    raw = request.match_info["alert"]
    if not raw.isdigit():
        raise web.HTTPNotFound(text="no such alert")
    return int(raw)


async def alert_page(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    alert_id = await _alert_id(request)
    try:
        broadcast = await service(ctx).get(alert_id)
        status = await service(ctx).status(alert_id)
    except BroadcastNotFound as exc:
        raise web.HTTPNotFound(text="no such alert") from exc
    prefix = ctx.settings.sms_prefix
    texts = [
        (lang, text, sms_cost(compose(prefix, text)).describe(), sensitive_opening(text, prefix))
        for lang, text in sorted(broadcast.texts.items())
    ]
    progress = progress_of(status.state, status.audience, status.counts)
    channels = _channels(ctx)
    audience_text = ""
    if status.state in ("draft", "approved") and broadcast.audience.known_regions:
        audience_text = await _audience_text(ctx, broadcast.audience)
    # An alert quoting a hotline vouches for it: name stale or never-verified ones.
    fresh = await publishing.alert_freshness(
        source_for(request), broadcast.texts.values(), ctx.now()
    )
    chart = None
    if status.state in ("sending", "paused", "done", "cancelled"):
        timelines(ctx).add(alert_id, ctx.now(), status.counts)
        times, series = timelines(ctx).series(alert_id)
        chart = line_chart(times, series, "Delivery over time")
    return render(
        request,
        "alert.html",
        {
            "alert": status,
            "broadcast": broadcast,
            "texts": texts,
            "progress": progress,
            "audience_text": audience_text,
            "chart": chart,
            "prefix": prefix,
            "can_approve": allows(current_role(request), Permission.APPROVE)
            and status.author != signed_in_user(request),
            "can_send": allows(current_role(request), Permission.APPROVE),
            "can_act": _may_act(current_role(request)),
            "channels": channels,
            "cannot_send": refusal(channels) if channels is not None else None,
            "fresh": fresh,
            "stale_after_days": ctx.settings.stale_after_days,
        },
    )


async def alert_status(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    alert_id = await _alert_id(request)
    try:
        status = await service(ctx).status(alert_id)
    except BroadcastNotFound as exc:
        raise web.HTTPNotFound(text="no such alert") from exc
    timelines(ctx).add(alert_id, ctx.now(), status.counts)
    progress = progress_of(status.state, status.audience, status.counts)
    return web.json_response({"state": status.state, **progress.as_json()})


async def alert_action(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    alert_id = await _alert_id(request)
    action = request.match_info["action"]
    user = signed_in_user(request)
    role = current_role(request)
    needed = {"approve": Permission.APPROVE, "send": Permission.APPROVE}
    if action in needed and not allows(role, needed[action]):
        return web.Response(status=403, text=f"Your role ({role}) may not {action} alerts.")
    if action not in needed and not _may_act(role):
        return web.Response(status=403, text=f"Your role ({role}) may not {action} alerts.")
    if action in needed:
        # Approving and sending need a fresh password and code; pausing and cancelling
        # never wait for one (stopping a harmful alert must be quick).
        require_fresh_auth(request)
    alerts = service(ctx)
    calls = {
        "approve": alerts.approve,
        "send": alerts.send,
        "pause": alerts.pause,
        "cancel": alerts.cancel,
    }
    call = calls.get(action)
    if call is None:
        raise web.HTTPNotFound(text="no such action")
    channels = _channels(ctx)
    reason = refusal(channels) if channels is not None and action == "send" else None
    if reason is not None:
        # "Sending started" for messages that can go nowhere would be a lie.
        return redirect(request, f"/alerts/{alert_id}", flash=f"Not sent: {reason}.")
    try:
        await call(alert_id, user, ctx.now())
    except BroadcastNotFound as exc:
        raise web.HTTPNotFound(text="no such alert") from exc
    except BroadcastError as exc:
        status = 403 if type(exc).__name__ == "SelfApproval" else 409
        if status == 403:
            return web.Response(status=403, text=str(exc))
        return redirect(request, f"/alerts/{alert_id}", flash=f"Not done: {exc}")
    done = {
        "approve": "Approved.",
        "send": f"Sending started through {summary(channels or [])}.",
        "pause": "Paused.",
        "cancel": "Cancelled: nothing more will be sent.",
    }
    message = done[action]
    if action in needed:
        broadcast = await alerts.get(alert_id)
        fresh = await publishing.alert_freshness(
            source_for(request), broadcast.texts.values(), ctx.now()
        )
        if fresh.count:
            message += " " + publishing.warning_of(fresh)
    return redirect(request, f"/alerts/{alert_id}", flash=message)


def _channels(ctx: ConsoleContext) -> list[ChannelStatus] | None:
    """The gateway's SMS channels, or None when this console cannot see them."""
    channel_states = ctx.hooks.channel_states
    return list(channel_states()) if channel_states else None


async def audience_count(request: web.Request) -> web.StreamResponse:
    """How many subscribers an audience reaches: a count for the compose page's script."""
    ctx = context(request)
    languages, _, _ = await vocabulary(ctx, chosen_service(request))
    values = _form_values(request.query, languages)
    if not values["topics"]:
        return web.json_response({"count": 0, "text": "0 subscribers would receive it."})
    audience = _audience(values, chosen_service(request).key)
    count = await ctx.backend.audience_size(audience)
    return web.json_response({"count": count, "text": await _audience_text(ctx, audience)})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/alerts/audience", audience_count)
    app.router.add_get("/alerts", alerts_index)
    app.router.add_get("/alerts/new", compose_page)
    app.router.add_post("/alerts/new", compose_submit)
    app.router.add_get("/alerts/{alert}", alert_page)
    app.router.add_get("/alerts/{alert}/status", alert_status)
    app.router.add_post("/alerts/{alert}/{action}", alert_action)
