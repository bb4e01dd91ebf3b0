"""Content in the console: sources and verification dates shown, stale entries flagged,
"verified today", and a CSV import of hotlines that previews before it writes."""

from __future__ import annotations

from typing import Any

import yaml
from aiohttp.test_utils import TestClient

from gateway.console.ports import ConsoleHooks
from gateway.content.catalog import load_catalogs
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore

CSV = (
    "id,countries,number,source,last_verified,text_en,text_fr,text_ar,text_so\n"
    "it-new,IT,1522,Italian Dept. for Equal Opportunities,2026-11-01,"
    "Italy anti-trafficking: 1522,Italie anti-traite: 1522,إيطاليا: 1522,Talyaaniga: 1522\n"
)


async def test_csv_import_previews_then_applies(
    client: TestClient, backend: SQLStore, settings: Settings, sign_in: Any
) -> None:
    token = await sign_in(client, "eddie")
    before = (settings.content / "hotlines.yaml").read_text()
    response = await client.post(
        "/console/content/import",
        data={"csrf_token": token, "action": "preview", "csv_text": CSV},
    )
    page = await response.text()
    assert "<strong>1</strong> new" in page
    assert "+ it-new (1522)" in page
    assert (settings.content / "hotlines.yaml").read_text() == before  # nothing written yet
    response = await client.post(
        "/console/content/import", data={"csrf_token": token, "action": "apply", "csv_text": CSV}
    )
    assert "Imported 1 hotline rows" in await response.text()
    catalog = load_catalogs(settings.content)["hotlines"]
    assert catalog.by_id["it-new"].countries == ("IT",)
    assert (settings.content / "hotlines.yaml").read_text().startswith("#")  # header kept
    assert (await backend.audit_entries())[-1].action == "content_import"


async def test_bad_csv_is_refused_with_the_line(
    client: TestClient, settings: Settings, sign_in: Any
) -> None:
    token = await sign_in(client, "eddie")
    bad = CSV.replace("2026-11-01", "last tuesday")
    response = await client.post(
        "/console/content/import", data={"csrf_token": token, "action": "apply", "csv_text": bad}
    )
    page = await response.text()
    assert "line 2: last_verified must be YYYY-MM-DD" in page
    assert "it-new" not in load_catalogs(settings.content)["hotlines"].by_id


async def test_verified_today_updates_the_entry_and_clears_stale(
    aiohttp_client: Any,
    backend: SQLStore,
    clock: Any,
    settings: Settings,
    app_factory: Any,
    sign_in: Any,
) -> None:
    path = settings.content / "hotlines.yaml"
    data = yaml.safe_load(path.read_text())
    entry_id = data["entries"][0]["id"]
    data["entries"][0]["last_verified"] = "2020-01-01"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    reloaded: list[bool] = []

    async def content_hook() -> None:
        reloaded.append(True)

    client = await aiohttp_client(
        app_factory(backend, clock, settings, ConsoleHooks(content_changed=content_hook))
    )
    token = await sign_in(client, "eddie")
    page = await (await client.get("/console/content")).text()
    assert f'id="hotlines-{entry_id}"' in page and "badge stale" in page
    response = await client.post(
        "/console/content/verify", data={"csrf_token": token, "kind": "hotlines", "entry": entry_id}
    )
    assert "verified today" in await response.text()
    entry = yaml.safe_load(path.read_text())["entries"][0]
    assert entry["verified_by"] == "eddie"
    assert entry["last_verified"] == "2027-01-15"  # the test clock's day
    assert reloaded == [True]
