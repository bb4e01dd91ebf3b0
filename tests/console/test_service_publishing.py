"""Each service's menu and content are edited, submitted and published in the console
under four eyes, by the operators holding a role on that service; the publish goes
live on that service's codes only, without a restart, and is served again after one.

The whole gateway (``create_app``: USSD over AT, the console, the store in a SQLite
file) through aiohttp's test client.
"""

from __future__ import annotations

import asyncio
import io
import re
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import structlog
from aiohttp.test_utils import TestClient

from gateway.cli.main import main
from gateway.console.passwords import Passwords
from gateway.content.document import content_versions_of
from gateway.menu.services import ServiceMapError, build_service_map
from gateway.server.app import create_app
from gateway.server.app_keys import RUNTIME
from gateway.settings import Settings
from gateway.store.audit_anchor import audit_seal
from gateway.store.sql_store import open_store
from tests.menu.test_services_apart import SECRET, gateway_with
from tests.menu.test_validator import GOOD

WORK = GOOD.replace(
    "tree: tiny",
    "tree: work-rights\ncontent: work-rights\nservice_codes: ['*384*2#', '21213']",
).replace(
    """  info:
    type: text
""",
    """  info:
    type: content
    catalog: hotlines
""",
)
LEGAL = GOOD.replace("tree: tiny", "tree: legal\nservice_codes: ['*384*3#']")
WORK_HOTLINES = """\
kind: hotlines
entries:
  - id: labour-line
    countries: ["*"]
    number: "1555"
    title: {en: Labour line, fr: Ligne travail}
    text: {en: "Labour line: 1555", fr: "Ligne travail: 1555"}
    source: "Labour inspectorate leaflet"
    last_verified: 2026-11-24
"""
PASSWORD = "a long test password"
CALLER = "+254700888002"  # Kenyan mobile range, not a real subscriber's number


def two_services(tmp_path: Path) -> Settings:
    settings = gateway_with(tmp_path, ("work.yaml", WORK), ("legal.yaml", LEGAL))
    (settings.content / "work-rights" / "hotlines.yaml").write_text(WORK_HOTLINES, "utf-8")
    return settings


async def started(aiohttp_client: Any, settings: Settings) -> TestClient:
    client: TestClient = await aiohttp_client(await create_app(settings, broadcast_worker=False))
    return client


async def operators(client: TestClient) -> None:
    store = client.app[RUNTIME].store
    hashed = Passwords().hash(PASSWORD)
    for username, service, role in (("wendy", "work-rights", "editor"),
                                    ("wes", "work-rights", "approver"),
                                    ("sam", "", "editor")):  # fmt: skip
        await store.create_operator(username, hashed, "none", 0.0)
        await store.set_service_role(username, service, role)


async def dial(client: TestClient, code: str, session: str, text: str = "") -> str:
    response = await client.post(
        f"/africastalking/ussd?key={SECRET}",
        data={"sessionId": session, "serviceCode": code, "phoneNumber": CALLER,
              "networkCode": "63902", "text": text},
    )  # fmt: skip
    assert response.status == 200
    return await response.text()


async def post(client: TestClient, path: str, token: str, **fields: str) -> Any:
    return await client.post(
        f"/console{path}", data={"csrf_token": token, **fields}, allow_redirects=False
    )


async def flash_after(client: TestClient, response: Any) -> str:
    """The page a 303 leads to (its flash message is on it)."""
    assert response.status == 303, await response.text()
    return str(await (await client.get(response.headers["Location"])).text())


async def open_draft(client: TestClient, path: str) -> int:
    page = await (await client.get(f"/console{path}")).text()
    found = re.search(r"/versions/(\d+)/submit", page)
    assert found, "no open draft on the page"
    return int(found.group(1))


async def audit_of(client: TestClient, *actions: str) -> list[Any]:
    rows = await client.app[RUNTIME].store.audit_entries()
    return [row for row in rows if row.action in actions]


async def test_a_services_menu_goes_live_on_its_own_code_under_four_eyes_and_after_a_restart(
    aiohttp_client: Any, tmp_path: Path, sign_in: Any
) -> None:
    settings = two_services(tmp_path)
    gateway = await started(aiohttp_client, settings)
    await operators(gateway)
    default_home = await dial(gateway, "*384#", "d1")
    assert (await dial(gateway, "*384*2#", "w1")).startswith("CON Welcome")

    editor = await started_session(aiohttp_client, gateway)
    token = await sign_in(editor, "wendy", PASSWORD)
    texts = {"text.en": "Work rights: welcome", "text.fr": "Droits: bienvenue"}
    saved = await post(editor, "/menus/work/screens/main/texts", token, **texts)
    assert "Draft saved" in await flash_after(editor, saved)
    draft = await open_draft(editor, "/menus/work/versions")
    submitted = await post(editor, f"/menus/work/versions/{draft}/submit", token)
    assert "submitted for review" in await flash_after(editor, submitted)
    # The editor may not publish, and nothing reached callers yet.
    refused = await post(editor, f"/menus/work/versions/{draft}/publish", token)
    assert refused.status == 403
    assert (await dial(gateway, "*384*2#", "w2")).startswith("CON Welcome")

    # An editor on the default service only: 403 on work-rights' menu and content.
    other = await started_session(aiohttp_client, gateway)
    other_token = await sign_in(other, "sam", PASSWORD)
    assert (await other.get("/console/menus/work")).status == 403
    assert (await post(other, "/menus/work/screens/main/texts", other_token,
                       **{"text.en": "x"})).status == 403  # fmt: skip
    assert (await post(other, "/service", other_token, service="work-rights")).status == 403

    approver = await started_session(aiohttp_client, gateway)
    approver_token = await sign_in(approver, "wes", PASSWORD)
    published = await post(approver, f"/menus/work/versions/{draft}/publish", approver_token)
    assert f"Version {draft} is live" in await flash_after(approver, published)
    # Live at once on work-rights' code, without a restart; the default is unchanged.
    assert (await dial(gateway, "*384*2#", "w3")).startswith("CON Work rights: welcome")
    assert await dial(gateway, "*384#", "d2") == default_home
    status = await (await gateway.get("/status")).json()
    work = next(s for s in status["services"] if s["id"] == "work-rights")
    assert work["tree_version"] == f"v{draft}" and work["up"]

    for row in await audit_of(gateway, "menu_edit", "version_submit", "menu_publish"):
        assert row.service == "work-rights" and row.subject == "menu:work"
    assert {r.action for r in await audit_of(gateway, "menu_publish")} == {"menu_publish"}

    # A restart on the same database serves work-rights' published version.
    await gateway.close()
    restarted = await started(aiohttp_client, settings)
    assert (await dial(restarted, "*384*2#", "w4")).startswith("CON Work rights: welcome")
    assert await dial(restarted, "*384#", "d3") == default_home
    status = await (await restarted.get("/status")).json()
    assert [s["tree_version"] for s in status["services"]] == ["file", "file", f"v{draft}"]


async def started_session(aiohttp_client: Any, gateway: TestClient) -> TestClient:
    """Another browser on the same gateway (its own cookies)."""
    client: TestClient = await aiohttp_client(gateway.server)
    return client


async def test_a_draft_taking_another_services_code_is_refused_naming_the_clash(
    aiohttp_client: Any, tmp_path: Path, sign_in: Any
) -> None:
    gateway = await started(aiohttp_client, two_services(tmp_path))
    await operators(gateway)
    editor = await started_session(aiohttp_client, gateway)
    token = await sign_in(editor, "wendy", PASSWORD)
    clashing = WORK.replace("['*384*2#', '21213']", "['*384*2#', '*384*3#']")
    imported = await post(editor, "/menus/work/import", token, yaml=clashing)
    await flash_after(editor, imported)
    draft = await open_draft(editor, "/menus/work/versions")
    submitted = await post(editor, f"/menus/work/versions/{draft}/submit", token)
    page = await flash_after(editor, submitted)
    assert "Not submitted" in page and "*384*3#" in page and "legal" in page
    # Renaming the tree would move its subscribers and figures: refused too.
    renamed = WORK.replace("tree: work-rights", "tree: jobs")
    await flash_after(editor, await post(editor, "/menus/work/import", token, yaml=renamed))
    draft = await open_draft(editor, "/menus/work/versions")
    submitted = await post(editor, f"/menus/work/versions/{draft}/submit", token)
    page = await flash_after(editor, submitted)
    assert "must keep its id" in page


async def test_a_published_version_whose_codes_clash_is_not_served(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """Published past the console (a race between two workers, an old version): the
    gateway keeps serving what it had, says why in an error line, and the service map
    is unchanged."""
    gateway = await started(aiohttp_client, two_services(tmp_path))
    runtime = gateway.app[RUNTIME]
    store = runtime.store
    clashing = WORK.replace("['*384*2#', '21213']", "['*384*2#', '*384*3#']").replace(
        "Welcome", "Taken"
    )
    version = await store.create_menu_version("work", clashing, "someone", 0.0)
    await store.publish_menu_version(version.id, "someone else", 0.0)
    with structlog.testing.capture_logs() as logs:
        await runtime.followers.refresh()
    refused = [e for e in logs if e["event"] == "gateway.version_not_served"]
    assert refused and refused[0]["service"] == "work-rights"
    assert "'*384*3#' is already service 'legal'" in refused[0]["first"]
    assert (await dial(gateway, "*384*3#", "l1")).startswith("CON Welcome")
    assert (await dial(gateway, "*384*2#", "w1")).startswith("CON Welcome")
    assert runtime.served.services.route("*384*3#") == "legal"


async def test_a_services_own_content_is_edited_and_published_for_it_alone(
    aiohttp_client: Any, tmp_path: Path, sign_in: Any
) -> None:
    gateway = await started(aiohttp_client, two_services(tmp_path))
    await operators(gateway)
    runtime = gateway.app[RUNTIME]
    assert "Labour line: 1555" in await dial(gateway, "*384*2#", "w1", "1")
    editor = await started_session(aiohttp_client, gateway)
    token = await sign_in(editor, "wendy", PASSWORD)
    page = await (await editor.get("/console/content")).text()
    assert "labour-line" in page and "eu-112" not in page  # its own, not the default's
    saved = await post(
        editor, "/content/entries/hotlines/labour-line", token,
        countries="*", number="1666", source="Labour inspectorate leaflet",
        last_verified="2026-11-24", **{"text.en": "Labour line: 1666",
                                       "text.fr": "Ligne travail: 1666",
                                       "title.en": "Labour line", "title.fr": "Ligne travail"},
    )  # fmt: skip
    assert "saved in draft" in await flash_after(editor, saved)
    # Kept under work-rights' own name in the store (saved submitted: checked whole).
    stored = await runtime.store.list_menu_versions(content_versions_of("work-rights"))
    assert [v.state for v in stored] == ["draft"] and stored[0].submitted_at is not None
    draft = stored[0].id
    assert "Labour line: 1555" in await dial(gateway, "*384*2#", "w2", "1")  # not yet

    # sam (editor on the default) edits the default's content, never work-rights'.
    other = await started_session(aiohttp_client, gateway)
    await sign_in(other, "sam", PASSWORD)
    default_page = await (await other.get("/console/content")).text()
    assert "eu-112" in default_page and "labour-line" not in default_page
    assert (await other.get(f"/console/content/versions/{draft}/export")).status == 404

    approver = await started_session(aiohttp_client, gateway)
    approver_token = await sign_in(approver, "wes", PASSWORD)
    published = await post(approver, f"/content/versions/{draft}/publish", approver_token)
    message = await flash_after(approver, published)
    # Never verified by an operator: the approver is warned, entry by entry.
    assert f"Content v{draft} is live" in message and "labour-line" in message
    assert "Labour line: 1666" in await dial(gateway, "*384*2#", "w3", "1")
    status = await (await gateway.get("/status")).json()
    versions = {s["id"]: s["content_version"] for s in status["services"]}
    assert versions == {"safe-journey": "files", "legal": "files", "work-rights": f"c{draft}"}
    rows = await audit_of(gateway, "content_edit", "content_publish")
    assert len(rows) == 2
    for row in rows:
        assert row.subject == "content:work-rights" and row.service == "work-rights"
    assert "labour-line" in str(rows[-1].details["warned"])


def test_a_service_map_refuses_a_code_of_another_service_and_a_second_default() -> None:
    services = build_service_map(
        [("safe", "a.yaml", ()), ("work", "b.yaml", ["*384*2#"]), ("legal", "c.yaml", ["*1#"])]
    )
    moved = services.with_codes("work", ["*384*5#", "21213"])
    assert moved.route("*384*5*1#") == "work" and moved.route("*384*2#") == "safe"
    with pytest.raises(ServiceMapError, match=r"'\*1#' is already service 'legal'"):
        services.with_codes("work", ["*1#"])
    with pytest.raises(ServiceMapError, match="only one tree may be the default"):
        services.with_codes("work", [])
    assert services.with_codes("safe", []).default == "safe"


def test_the_command_line_publishes_a_services_own_content_as_an_approver_on_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``gateway publish content --service work-rights``: its own content, published by
    an approver on work-rights (not by one on the default service only), audited there."""
    settings = two_services(tmp_path)
    for name, value in (("DATA_DIR", str(settings.data_dir)), ("MENUS", str(settings.menus)),
                        ("CONTENT", str(settings.content)),
                        ("CALLBACK_SECRET", settings.callback_secret.reveal()),
                        ("HASH_KEY", settings.hash_key.reveal())):  # fmt: skip
        monkeypatch.setenv(f"GATEWAY_{name}", value)
    name = content_versions_of("work-rights")
    document = WORK_HOTLINES.replace('number: "1555"', 'number: "1777"')

    async def prepare() -> int:
        store = await open_store(settings.db_url, audit=audit_seal(settings))
        try:
            hashed = Passwords().hash(PASSWORD)
            for username, service_off in (("wes", ""), ("april", "work-rights")):
                await store.create_operator(username, hashed, "approver", 0.0)
                await store.set_service_role(username, service_off, "none")
            text = f"hotlines:\n{textwrap.indent(document.split(chr(10), 1)[1], '  ')}"
            draft = await store.create_menu_version(name, text, "wendy", 0.0, submitted=True)
            return int(draft.id)
        finally:
            await store.close()

    async def published() -> tuple[Any, list[Any]]:
        store = await open_store(settings.db_url, audit=audit_seal(settings))
        try:
            rows = await store.audit_entries()
            return await store.published_menu(name), rows
        finally:
            await store.close()

    draft = asyncio.run(prepare())

    def publish(username: str, service: str) -> int:
        monkeypatch.setattr(sys, "stdin", io.StringIO(PASSWORD + "\n"))
        return main(["publish", "content", "--service", service, "--as", username,
                     "--password-stdin"])  # fmt: skip

    assert publish("wes", "nowhere") == 1
    assert publish("april", "work-rights") == 1  # an approver, but not on work-rights
    live, _ = asyncio.run(published())
    assert live is None
    assert publish("wes", "work-rights") == 0
    live, rows = asyncio.run(published())
    assert live is not None and live.id == draft
    done = [row for row in rows if row.action == "content_publish"]
    assert [(r.subject, r.service, r.actor) for r in done] == [
        ("content:work-rights", "work-rights", "wes")
    ]
    refused = [row for row in rows if row.action == "cli_refused"]
    assert [(r.actor, r.service) for r in refused] == [("april", "work-rights")]


async def test_a_down_service_comes_up_when_a_valid_version_is_published_and_stays_up(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """Its file is broken: down at boot (the others served). A valid version published
    (here straight into the store, as the console's publish leaves it) brings it up
    without a restart; after a restart, with the file still broken, the published
    version is served and the gateway says why, as it does for the default."""
    settings = two_services(tmp_path)
    (settings.menus / "legal.yaml").write_text(
        LEGAL.replace("goto: info", "goto: nowhere"), encoding="utf-8"
    )
    gateway = await started(aiohttp_client, settings)
    runtime = gateway.app[RUNTIME]
    assert "legal" in runtime.served.down
    closing = await dial(gateway, "*384*3#", "l1")
    assert closing.startswith("END")
    version = await runtime.store.create_menu_version("legal", LEGAL, "someone", 0.0)
    await runtime.store.publish_menu_version(version.id, "someone else", 0.0)
    await runtime.followers.refresh()
    assert (await dial(gateway, "*384*3#", "l2")).startswith("CON Welcome")
    status = await (await gateway.get("/status")).json()
    legal = next(s for s in status["services"] if s["id"] == "legal")
    assert legal["up"] and legal["tree_version"] == f"v{version.id}"

    await gateway.close()
    with structlog.testing.capture_logs() as logs:
        restarted = await started(aiohttp_client, settings)
    assert (await dial(restarted, "*384*3#", "l3")).startswith("CON Welcome")
    status = await (await restarted.get("/status")).json()
    legal = next(s for s in status["services"] if s["id"] == "legal")
    assert legal["up"] and "legal.yaml" in legal["serving_warning"]
    said = [e for e in logs if e["event"] == "gateway.files_invalid_serving_published"]
    assert [e["service"] for e in said] == ["legal"]


async def test_a_clashing_version_in_the_store_takes_down_its_service_not_the_boot(
    aiohttp_client: Any, tmp_path: Path
) -> None:
    """A version whose codes clash reached the store past the console's check (a race):
    after a restart the gateway still starts, the other services are served on their
    codes, the clashing service is down naming the clash, and a version without the
    clash, published in the console the gateway kept serving, brings it back."""
    settings = two_services(tmp_path)
    gateway = await started(aiohttp_client, settings)
    store = gateway.app[RUNTIME].store
    clashing = WORK.replace("['*384*2#', '21213']", "['*384*2#', '*384*3#']").replace(
        "Welcome", "Taken"
    )
    version = await store.create_menu_version("work", clashing, "someone", 0.0)
    await store.publish_menu_version(version.id, "someone else", 0.0)
    await gateway.close()

    with structlog.testing.capture_logs() as logs:
        restarted = await started(aiohttp_client, settings)
    runtime = restarted.app[RUNTIME]
    said = [e for e in logs if e["event"] == "gateway.service_down"]
    assert [e["service"] for e in said] == ["work-rights"]
    assert "'*384*3#'" in said[0]["reason"] and f"v{version.id}" in said[0]["reason"]
    assert (await dial(restarted, "*384*3#", "l1")).startswith("CON Welcome")  # legal's
    assert (await dial(restarted, "*384*2#", "w1")).startswith("END")  # down, politely
    assert "Taken" not in await dial(restarted, "*384*3#", "l2")
    status = await (await restarted.get("/status")).json()
    work = next(s for s in status["services"] if s["id"] == "work-rights")
    assert not work["up"] and "'*384*3#'" in work["down_reason"]

    fixed = await runtime.store.create_menu_version("work", WORK, "someone", 0.0)
    await runtime.store.publish_menu_version(fixed.id, "someone else", 0.0)
    await runtime.followers.refresh()
    assert (await dial(restarted, "*384*2#", "w2")).startswith("CON Welcome")
    assert (await dial(restarted, "*384*3#", "l3")).startswith("CON Welcome")
    assert runtime.served.services.route("*384*3#") == "legal"
