"""Operators see the services they hold a role on, and nothing of the others: every
console route naming another service's object is refused with 403."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from gateway.console.ports import ConsoleHooks, ServiceInfo
from gateway.store.records import Audience, NewBroadcast
from gateway.store.sql_store import SQLStore
from tests.menu.test_validator import GOOD

START = 1_800_000_000.0
WORK_TREE = GOOD.replace("tree: tiny", "tree: work-rights\nservice_codes: ['*384*2#']")
SERVICES = [
    ServiceInfo("safe-journey", "", (), "", "safe-journey"),
    ServiceInfo("work-rights", "work-rights", ("*384*2#",), "", "work"),
]


@pytest.fixture
async def two_services(
    aiohttp_client: Any,
    backend: SQLStore,
    clock: Any,
    settings: Any,
    tree_dirs: tuple[Path, Path],
    app_factory: Any,
    fast_passwords: Any,
    password: str,
) -> tuple[Any, dict[str, int]]:
    (tree_dirs[0] / "work.yaml").write_text(WORK_TREE, encoding="utf-8")
    for username, service in (("sam", ""), ("wendy", "work-rights")):
        await backend.create_operator(username, fast_passwords.hash(password), "none", START)
        await backend.set_service_role(username, service, "editor")
    alerts = {}
    for name, key in (("safe-journey", ""), ("work-rights", "work-rights")):
        alerts[name] = await backend.create_broadcast(
            NewBroadcast(
                {"en": f"{name} alert"}, "en", Audience(("t",), service=key), "UNHCR", "x",
                START + 3600,
            ),
            START,
        )  # fmt: skip
    hooks = ConsoleHooks(services=lambda: SERVICES)

    async def client_for() -> TestClient:
        client: TestClient = await aiohttp_client(app_factory(backend, clock, settings, hooks))
        return client

    return client_for, alerts


def _routes(app: web.Application) -> list[tuple[str, str]]:
    console = next(
        resource._app for resource in app.router.resources() if hasattr(resource, "_app")
    )
    found = []
    for resource in console.router.resources():
        info = resource.get_info()
        path = info.get("formatter") or info.get("path")
        if not path:
            continue
        for route in resource:
            if route.method in ("GET", "POST"):
                found.append((route.method, str(path).removeprefix("/console")))
    return found


async def test_each_operator_sees_only_their_service(
    two_services: tuple[Any, dict[str, int]], sign_in: Any
) -> None:
    client_for, alerts = two_services
    for username, own, other in (("sam", "safe-journey", "work-rights"),
                                 ("wendy", "work-rights", "safe-journey")):  # fmt: skip
        client = await client_for()
        token = await sign_in(client, username)
        home = await (await client.get("/console/")).text()
        switch = re.search(r'<select id="service-switch".*?</select>', home, re.S)
        assert switch is not None
        assert f'value="{own}"' in switch.group(0) and f'value="{other}"' not in switch.group(0)
        listing = await (await client.get("/console/alerts")).text()
        assert f"/alerts/{alerts[own]}" in listing and f"/alerts/{alerts[other]}" not in listing
        refused = await client.post(
            "/console/service", data={"service": other, "csrf_token": token},
            allow_redirects=False,
        )  # fmt: skip
        assert refused.status == 403
        own_alert = await client.get(f"/console/alerts/{alerts[own]}")
        assert own_alert.status == 200


async def test_every_route_refuses_another_services_objects(
    two_services: tuple[Any, dict[str, int]], sign_in: Any
) -> None:
    client_for, alerts = two_services
    client = await client_for()
    token = await sign_in(client, "wendy")  # editor on work-rights only
    checked = []
    for method, path in _routes(client.app):
        url = path.replace("{name}", "safe-journey").replace("{alert}", str(alerts["safe-journey"]))
        url = url.replace("{action}", "approve").replace("{screen}", "main")
        url = url.replace("{version}", "1").replace("{kind}", "hotlines").replace("{entry}", "x")
        foreign = "{name}" in path or "{alert}" in path or path.startswith("/content/")
        if not foreign:
            continue
        response = await client.request(
            method, "/console" + url, data={"csrf_token": token}, allow_redirects=False
        )
        assert response.status == 403, (method, url, response.status)
        checked.append((method, path))
    # every menu, alert and content route was tried
    assert len(checked) >= 20, checked
    assert {p for _, p in checked} >= {"/menus/{name}", "/alerts/{alert}", "/content/versions"}
    # the content page itself says where this service's content lives, not the default's
    page = await (await client.get("/console/content")).text()
    assert "Content of work-rights" in page and "hotlines.yaml" not in page


async def test_the_same_routes_serve_the_operators_own_service(
    two_services: tuple[Any, dict[str, int]], sign_in: Any
) -> None:
    client_for, alerts = two_services
    client = await client_for()
    await sign_in(client, "sam")  # editor on the default service only
    own_alert = f"/console/alerts/{alerts['safe-journey']}"
    for url in ("/console/menus/safe-journey", "/console/content", own_alert,
                "/console/alerts/audience?topic=t", "/console/"):  # fmt: skip
        response = await client.get(url)
        assert response.status == 200, (url, response.status)
    assert (await client.get("/console/menus/work")).status == 403
    menus = await (await client.get("/console/menus")).text()
    assert "/menus/safe-journey" in menus and "/menus/work" not in menus


async def test_an_admin_switches_between_every_service(
    two_services: tuple[Any, dict[str, int]], sign_in: Any
) -> None:
    client_for, alerts = two_services
    client = await client_for()
    token = await sign_in(client, "ada")
    assert (await client.get(f"/console/alerts/{alerts['work-rights']}")).status == 403
    switched = await client.post(
        "/console/service", data={"service": "work-rights", "csrf_token": token},
        allow_redirects=False,
    )  # fmt: skip
    assert switched.status == 303
    assert (await client.get(f"/console/alerts/{alerts['work-rights']}")).status == 200
    assert (await client.get(f"/console/alerts/{alerts['safe-journey']}")).status == 403
    assert (await client.get("/console/menus/work")).status == 200


async def test_a_down_service_is_a_banner_on_every_page(
    aiohttp_client: Any, backend: SQLStore, clock: Any, settings: Any, app_factory: Any,
    sign_in: Any,
) -> None:  # fmt: skip
    down = ServiceInfo("broken", "broken", (), "menus/broken.yaml:12: screen 'x': no text", "b")
    hooks = ConsoleHooks(services=lambda: [*SERVICES, down])
    client: TestClient = await aiohttp_client(app_factory(backend, clock, settings, hooks))
    await sign_in(client, "eddie")  # an editor everywhere: sees every service
    for url in ("/console/", "/console/alerts", "/console/menus"):
        page = await (await client.get(url)).text()
        assert "Service broken is down:" in page
        assert "menus/broken.yaml:12: screen &#39;x&#39;: no text" in page


async def test_an_admin_sets_a_role_on_the_chosen_service(
    two_services: tuple[Any, dict[str, int]], sign_in: Any, backend: SQLStore
) -> None:
    client_for, _ = two_services
    client = await client_for()
    token = await sign_in(client, "ada")
    await client.post("/console/service", data={"service": "work-rights", "csrf_token": token})
    page = await (await client.get("/console/users")).text()
    assert "Role on work-rights" in page
    changed = await client.post(
        "/console/users/sam",
        data={"action": "service_role", "service_role": "approver", "csrf_token": token},
    )
    assert changed.status == 200
    assert await backend.service_roles("sam") == {"": "editor", "work-rights": "approver"}
    assert (await backend.audit_entries())[-1].action == "user_service_role"
    await client.post(
        "/console/users/sam",
        data={"action": "service_role", "service_role": "account", "csrf_token": token},
    )
    assert await backend.service_roles("sam") == {"": "editor"}
    refused = await client.post(
        "/console/users/sam",
        data={"action": "service_role", "service_role": "admin", "csrf_token": token},
    )
    assert "Not changed" in await refused.text()


async def test_the_audit_page_shows_each_operator_their_services_rows(
    two_services: tuple[Any, dict[str, int]], sign_in: Any, backend: SQLStore
) -> None:
    client_for, _ = two_services
    await backend.append_audit("wendy", "alert.create", "broadcast:w", {}, START, "work-rights")
    await backend.append_audit("sam", "alert.create", "broadcast:s", {}, START + 1, "")
    await backend.append_audit("cli", "user_add", "operator:zed", {}, START + 2)
    for name in ("sam", "wendy", "zed"):  # a failed sign-in typed under each name
        await backend.append_audit(f"claimed:{name}", "login_failed", "console", {}, START + 3)
    for username, own, other in (("sam", "broadcast:s", "broadcast:w"),
                                 ("wendy", "broadcast:w", "broadcast:s")):  # fmt: skip
        client = await client_for()
        await sign_in(client, username)
        page = await (await client.get("/console/audit")).text()
        # The integrity check still walks the whole chain (every service's rows).
        assert "The chain verifies" in page
        assert f"<td>{own}</td>" in page and f"<td>{other}</td>" not in page
        # Rows about no service: their own sign-in, not someone else's account change.
        assert f"<td>{username}</td><td>login</td>" in page
        assert f"<td>claimed:{username}</td><td>login_failed</td>" in page
        assert "operator:zed" not in page and "claimed:zed" not in page
        refused = await client.get(
            "/console/audit?service=" + ("safe-journey" if username == "wendy" else "work-rights")
        )
        assert refused.status == 403
        assert (await client.get("/console/audit?service=-")).status == 403
    admin = await client_for()
    await sign_in(admin, "ada")
    everything = await (await admin.get("/console/audit")).text()
    assert all(
        f"<td>{row}</td>" in everything for row in ("broadcast:s", "broadcast:w", "operator:zed")
    )
    assert "<td>work-rights</td><td>wendy</td>" in everything  # the service column
    work = await (await admin.get("/console/audit?service=work-rights")).text()
    assert (
        "<td>broadcast:w</td>" in work and "broadcast:s" not in work and "operator:zed" not in work
    )
    none = await (await admin.get("/console/audit?service=-")).text()
    assert "operator:zed" in none and "broadcast:" not in none
