"""The dashboard shows aggregates only: sessions per day, drop-off per screen,
subscribers per topic, SMSC link states, stale content; and the SVG charts are safe."""

from __future__ import annotations

import datetime as dt
from typing import Any

import yaml

from gateway.console.charts import bar_chart, column_chart, line_chart
from gateway.console.ports import ConsoleHooks
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore


def day(clock: Any, days_ago: int) -> str:
    today = dt.datetime.fromtimestamp(clock(), dt.UTC).date()
    return (today - dt.timedelta(days=days_ago)).isoformat()


async def test_dashboard_shows_traffic_drop_off_links_and_stale_entries(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    await backend.record_session_end(day(clock, 0), "hotlines_country", "Incomplete", 7)
    for index in range(5):
        subscriber = await backend.upsert_subscriber(
            f"hash-{index}", b"sealed", ("en", "fr")[index % 2], "africastalking", clock()
        )
        await backend.subscribe(subscriber.id, "route-alerts", "", "en", clock())
    await backend.record_session_end(day(clock, 1), "main", "Success", 30)
    hotlines = settings.content / "hotlines.yaml"
    catalog = yaml.safe_load(hotlines.read_text())
    catalog["entries"][0]["last_verified"] = "2020-01-01"
    hotlines.write_text(yaml.safe_dump(catalog, allow_unicode=True))
    app = app_factory(
        backend,
        clock,
        settings,
        ConsoleHooks(link_states=lambda: {"smsc-a": "bound", "smsc-b": "down"}),
    )
    page = await (await signed_in("eddie", app)).page("/console/")
    assert "(37 in 14 days)" in page
    assert "hotlines_country: 7" in page  # the drop-off bar's tooltip
    assert "main: 30" not in page  # a completed session is not a drop-off
    assert '<span class="badge down">down</span>' in page
    assert "route-alerts: 5" in page
    assert "en: 3" in page and "fr: 2" in page  # subscribers per language
    assert f"hotlines / {catalog['entries'][0]['id']}</a>, last verified 2020-01-01" in page


def test_chart_labels_from_data_are_escaped() -> None:
    hostile = '<script>alert("x")</script>'
    for chart in (
        bar_chart([(hostile, 3)], hostile),
        column_chart([(hostile, 3)], hostile),
        line_chart([1.0, 2.0], {hostile: [1, 2]}, hostile),
    ):
        assert "<script>" not in chart
        assert "&lt;script&gt;" in chart


def test_bar_lengths_follow_the_values() -> None:
    chart = bar_chart([("a", 10), ("b", 5)], "t")
    widths = [float(part.split('"')[0]) for part in chart.split('width="')[1:] if part[0].isdigit()]
    assert widths[0] == 2 * widths[1]


async def test_dashboard_shows_each_route_its_targets_and_counts(
    backend: SQLStore, clock: Any, settings: Settings, app_factory: Any, signed_in: Any
) -> None:
    def target(name: str, up: bool, submitted: int, failover: int) -> dict[str, Any]:
        return {
            "target": name,
            "kind": "africastalking" if name == "africastalking" else "smpp",
            "up": up,
            "submitted": submitted,
            "failover": failover,
            "accepted": submitted,
            "refused": 0,
            "failed_over": 0,
            "unknown": 0,
            "retry": 0,
            "opted_out": 0,
        }

    routes = [
        {
            "route": "kenya",
            "matches": ["KE", "+2547"],
            "tps": 20.0,
            "state": "up",
            "current": "africastalking",
            "failover": 40,
            "targets": [target("op1", False, 120, 0), target("africastalking", True, 40, 40)],
        }
    ]
    app = app_factory(backend, clock, settings, ConsoleHooks(route_states=lambda: routes))
    page = await (await signed_in("eddie", app)).page("/console/")
    table = page.split('<table id="routes">')[1].split("</table>")[0]
    assert '<tr data-route="kenya">' in table and "KE, +2547" in table and "20.0 msg/s" in table
    assert "now: africastalking" in table
    op1 = table.split('<li data-target="op1">')[1].split("</li>")[0]
    assert '<span class="badge down">down</span>' in op1 and "120 submitted" in op1
    at = table.split('<li data-target="africastalking">')[1].split("</li>")[0]
    assert '<span class="badge up">up</span>' in at and "40 by failover" in at
