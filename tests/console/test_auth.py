"""Sign-in security: CSRF, throttling, cookie flags, session rotation and timeouts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from aiohttp.test_utils import TestClient

from gateway.console.context import SECURE_SESSION_COOKIE, SESSION_COOKIE
from gateway.console.sign_in_throttle import PAIR
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore


def session_cookie(client: TestClient) -> str:
    for cookie in client.session.cookie_jar:
        if cookie.key == SESSION_COOKIE:
            return cookie.value
    raise AssertionError("no session cookie")


async def test_pages_redirect_to_login_when_signed_out(client: TestClient) -> None:
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303
    assert response.headers["Location"].startswith("/console/login?next=")


async def test_login_without_csrf_token_is_refused(client: TestClient, password: str) -> None:
    await client.get("/console/login")
    response = await client.post(
        "/console/login", data={"username": "ada", "password": password}, allow_redirects=False
    )
    assert response.status == 403
    assert "reload the page" in await response.text()


async def test_form_with_a_wrong_csrf_token_is_refused(client: TestClient, sign_in: Any) -> None:
    token = await sign_in(client, "ada")
    response = await client.post(
        "/console/logout", data={"csrf_token": token[:-2] + "xx"}, allow_redirects=False
    )
    assert response.status == 403
    # The right token works.
    response = await client.post(
        "/console/logout", data={"csrf_token": token}, allow_redirects=False
    )
    assert response.status == 303


async def test_sign_in_rotates_the_session_and_its_csrf_token(
    client: TestClient, sign_in: Any, csrf: Any
) -> None:
    page = await client.get("/console/login")
    before_cookie = session_cookie(client)
    before_token = csrf(await page.text())
    after_token = await sign_in(client, "ada")
    assert session_cookie(client) != before_cookie
    assert after_token != before_token
    # The pre-login session id no longer names any session.
    client.session.cookie_jar.clear()
    client.session.cookie_jar.update_cookies({SESSION_COOKIE: before_cookie})
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303


async def test_session_cookie_is_httponly_and_samesite_strict(client: TestClient) -> None:
    response = await client.get("/console/login")
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Strict"
    assert not cookie["secure"]
    assert cookie["path"] == "/console/"


async def test_session_cookie_is_secure_when_configured(
    aiohttp_client: Any, backend: SQLStore, clock: Any, settings: Settings, app_factory: Any
) -> None:
    secure = replace(settings, console_secure_cookies=True)
    client = await aiohttp_client(app_factory(backend, clock, secure))
    response = await client.get("/console/login")
    # Secure cookies carry the __Host- prefix, which the browser accepts only with
    # Secure, no Domain and path "/".
    cookie = response.cookies[SECURE_SESSION_COOKIE]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"]
    assert SESSION_COOKIE not in response.cookies


async def test_wrong_password_is_refused_and_audited(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    await sign_in(client, "ada", "not the password", status=401)
    await sign_in(client, "x" * 5000, "not the password", status=401)
    entries = await backend.audit_entries()
    # A name typed before signing in is marked as claimed and cut short.
    assert ("claimed:ada", "login_failed") in [(e.actor, e.action) for e in entries]
    assert ("claimed:" + "x" * 32, "login_failed") in [(e.actor, e.action) for e in entries]


async def test_successful_sign_in_is_audited(
    client: TestClient, backend: SQLStore, sign_in: Any
) -> None:
    await sign_in(client, "april")
    entries = await backend.audit_entries()
    assert [(e.actor, e.action) for e in entries][-1] == ("april", "login")


async def test_disabled_account_cannot_sign_in(client: TestClient, sign_in: Any) -> None:
    await sign_in(client, "gone", status=401)


async def test_five_failures_slow_the_account_from_that_address(
    client: TestClient, clock: Any, sign_in: Any, csrf: Any, password: str
) -> None:
    for _ in range(PAIR.free):
        await sign_in(client, "eddie", "wrong password!", status=401)
    # Even the right password waits now, with a message a person understands.
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={"username": "eddie", "password": password, "csrf_token": csrf(await page.text())},
    )
    assert response.status == 429
    assert "Too many attempts" in await response.text()
    assert int(response.headers["Retry-After"]) <= PAIR.base_delay
    clock.advance(PAIR.base_delay + 1)
    await sign_in(client, "eddie")


async def test_failures_across_usernames_slow_the_address(client: TestClient, sign_in: Any) -> None:
    for index in range(20):
        await sign_in(client, f"u{index}", "whatever12345", status=401)
    await sign_in(client, "ada", status=429)


async def test_idle_session_ends(client: TestClient, clock: Any, sign_in: Any) -> None:
    await sign_in(client, "ada")
    clock.advance(599)
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    clock.advance(601)
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303
    login = await client.get(response.headers["Location"])
    assert "Your session has ended" in await login.text()


async def test_session_ends_after_absolute_timeout_even_when_active(
    client: TestClient, clock: Any, sign_in: Any
) -> None:
    await sign_in(client, "ada")
    for _ in range(8):
        clock.advance(500)
        response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303


async def test_pages_carry_protective_headers(client: TestClient) -> None:
    response = await client.get("/console/login")
    assert "frame-ancestors 'none'" in response.headers["Content-Security-Policy"]
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Frame-Options"] == "DENY"


async def test_next_parameter_cannot_leave_the_console(
    client: TestClient, csrf: Any, password: str, totp: Any
) -> None:
    page = await client.get("/console/login")
    response = await client.post(
        "/console/login",
        data={
            "username": "ada",
            "password": password,
            "next": "https://evil.example/",
            "csrf_token": csrf(await page.text()),
        },
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/console/login/code"
    code = await totp(client, "ada")
    page = await client.get("/console/login/code")
    response = await client.post(
        "/console/login/code",
        data={"code": code, "csrf_token": csrf(await page.text())},
        allow_redirects=False,
    )
    assert response.headers["Location"] == "/console/"


async def test_disabling_an_account_ends_its_session(
    client: TestClient, backend: SQLStore, clock: Any, sign_in: Any
) -> None:
    await sign_in(client, "eddie")
    await backend.update_operator("eddie", clock(), disabled=True)
    response = await client.get("/console/", allow_redirects=False)
    assert response.status == 303
