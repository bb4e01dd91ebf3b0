"""Sign-in that holds: parallel guesses, proxies, the second factor, re-authentication,
and the password policy, against the real console on a real SQLite store."""

from __future__ import annotations

import asyncio
import ipaddress
import random
from dataclasses import replace
from typing import Any
from urllib.parse import unquote

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient

from gateway.console.passwords import PasswordPolicyError, Passwords, check_policy
from gateway.console.sign_in_throttle import PAIR
from gateway.settings import Settings
from gateway.store.sql_store import SQLStore


class CountingPasswords(Passwords):
    """The real argon2 checks, counted: how many guesses were actually tried."""

    def __init__(self, inner: Passwords) -> None:
        super().__init__(inner._hasher)
        self.checked = 0

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.checked += 1
        return super().verify(stored_hash, password)


async def _login_form(client: TestClient, csrf: Any) -> str:
    token: str = csrf(await (await client.get("/console/login")).text())
    return token


async def _password_step(
    client: TestClient, csrf: Any, username: str, password: str, **options: Any
) -> ClientResponse:
    """Sign-in's first step, from a fresh form: the account's password."""
    token = await _login_form(client, csrf)
    return await client.post(
        "/console/login",
        data={"username": username, "password": password, "csrf_token": token},
        **options,
    )


async def test_120_parallel_guesses_try_at_most_the_allowed_number(
    aiohttp_client: Any,
    backend: SQLStore,
    clock: Any,
    settings: Settings,
    app_factory: Any,
    fast_passwords: Passwords,
    csrf: Any,
    password: str,
) -> None:
    app = app_factory(backend, clock, settings)
    counting = CountingPasswords(fast_passwords)
    from gateway.console.context import CONTEXT
    from tests.console.conftest import CONSOLE

    app[CONSOLE][CONTEXT].passwords = counting
    client: TestClient = await aiohttp_client(app)
    token = await _login_form(client, csrf)
    guesses = [f"wrong guess number {n}" for n in range(119)] + [password]
    random.Random(7).shuffle(guesses)

    async def attempt(guess: str) -> int:
        response = await client.post(
            "/console/login",
            data={"username": "eddie", "password": guess, "csrf_token": token},
            allow_redirects=False,
        )
        return response.status

    statuses = await asyncio.gather(*(attempt(guess) for guess in guesses))
    tried = [status for status in statuses if status != 429]
    assert len(tried) <= PAIR.free
    assert counting.checked <= PAIR.free
    assert statuses.count(429) >= 120 - PAIR.free


async def test_behind_a_trusted_proxy_a_guesser_slows_only_their_own_address(
    aiohttp_client: Any,
    backend: SQLStore,
    clock: Any,
    settings: Settings,
    app_factory: Any,
    csrf: Any,
    password: str,
    totp: Any,
) -> None:
    proxied = replace(settings, trusted_proxies=(ipaddress.ip_network("127.0.0.1/32"),))
    client: TestClient = await aiohttp_client(app_factory(backend, clock, proxied))

    async def sign_in_from(address: str, username: str, secret: str) -> int:
        token = await _login_form(client, csrf)
        response = await client.post(
            "/console/login",
            data={"username": username, "password": secret, "csrf_token": token},
            headers={"X-Forwarded-For": f"192.0.2.1, {address}"},
            allow_redirects=False,
        )
        return response.status

    for _ in range(5):
        assert await sign_in_from("198.51.100.66", "april", "not her password") == 401
    # The guesser's address now waits for april...
    assert await sign_in_from("198.51.100.66", "april", password) == 429
    # ...but april from her own address, and other accounts, get in.
    assert await sign_in_from("203.0.113.10", "april", password) == 303
    page = await client.get("/console/login/code")
    response = await client.post(
        "/console/login/code",
        data={"code": await totp(client, "april"), "csrf_token": csrf(await page.text())},
        headers={"X-Forwarded-For": "203.0.113.10"},
        allow_redirects=False,
    )
    assert response.status == 303 and response.headers["Location"] == "/console/"
    client.session.cookie_jar.clear()
    assert await sign_in_from("198.51.100.66", "eddie", password) == 303
    entries = await backend.audit_entries()
    assert any(e.details.get("address") == "198.51.100.66" for e in entries)


async def test_forwarded_for_from_an_untrusted_peer_does_not_escape_the_throttle(
    client: TestClient, csrf: Any, password: str
) -> None:
    for index in range(PAIR.free):
        token = await _login_form(client, csrf)
        await client.post(
            "/console/login",
            data={"username": "eddie", "password": "wrong!", "csrf_token": token},
            headers={"X-Forwarded-For": f"203.0.113.{index}"},
        )
    token = await _login_form(client, csrf)
    response = await client.post(
        "/console/login",
        data={"username": "eddie", "password": password, "csrf_token": token},
        headers={"X-Forwarded-For": "203.0.113.200"},
        allow_redirects=False,
    )
    assert response.status == 429


async def test_the_second_factor_is_needed_and_each_code_works_once(
    client: TestClient, csrf: Any, password: str, totp: Any, backend: SQLStore
) -> None:
    response = await _password_step(client, csrf, "ada", password, allow_redirects=False)
    assert response.headers["Location"] == "/console/login/code"
    # Half-way through sign-in, no console page opens.
    assert (await client.get("/console/", allow_redirects=False)).status == 303
    page = await client.get("/console/login/code")
    token = csrf(await page.text())
    wrong = await client.post("/console/login/code", data={"code": "000000", "csrf_token": token})
    assert wrong.status == 401
    code = await totp(client, "ada")
    right = await client.post(
        "/console/login/code", data={"code": code, "csrf_token": token}, allow_redirects=False
    )
    assert right.status == 303
    assert (await client.get("/console/", allow_redirects=False)).status == 200
    # The same code again (another browser) is refused: it was used.
    other_token = csrf(await (await client.get("/console/login")).text())
    client.session.cookie_jar.clear()
    await _password_step(client, csrf, "ada", password, allow_redirects=False)
    page = await client.get("/console/login/code")
    replay = await client.post(
        "/console/login/code", data={"code": code, "csrf_token": csrf(await page.text())}
    )
    assert replay.status == 401
    assert other_token


async def test_an_approver_without_a_second_factor_must_enrol_and_gets_recovery_codes(
    client: TestClient, csrf: Any, password: str, backend: SQLStore, totp: Any
) -> None:
    await backend.delete_second_factor("april")
    response = await _password_step(client, csrf, "april", password, allow_redirects=False)
    assert response.headers["Location"] == "/console/login/enrol"
    page = await (await client.get("/console/login/enrol")).text()
    assert "<svg" in page and "<img" not in page  # the QR code is drawn inline
    from tests.console.conftest import enrol_in_browser_steps

    await enrol_in_browser_steps(client)
    factor = await backend.get_second_factor("april")
    assert factor is not None and len(factor.recovery_hashes) == 10
    assert (await client.get("/console/", allow_redirects=False)).status == 200


async def test_a_recovery_code_signs_in_once(
    client: TestClient, csrf: Any, password: str, backend: SQLStore
) -> None:
    await backend.delete_second_factor("april")
    await _password_step(client, csrf, "april", password)
    from gateway.console import second_factor
    from tests.console.conftest import SECRET_SHOWN, console_context

    page = await (await client.get("/console/login/enrol")).text()
    secret = SECRET_SHOWN.search(page).group(1).replace(" ", "")  # type: ignore[union-attr]
    step = second_factor.step_at(console_context(client).now())
    shown = await client.post(
        "/console/login/enrol",
        data={"code": second_factor.code_at(secret, step), "csrf_token": csrf(page)},
    )
    codes = __import__("re").findall(r"<li><code>([a-z0-9-]+)</code></li>", await shown.text())
    assert len(codes) == 10
    for expected in (303, 401):
        client.session.cookie_jar.clear()
        await _password_step(client, csrf, "april", password)
        page_text = await (await client.get("/console/login/code")).text()
        response = await client.post(
            "/console/login/code",
            data={"code": codes[0].upper(), "csrf_token": csrf(page_text)},
            allow_redirects=False,
        )
        assert response.status == expected


async def test_approving_needs_a_fresh_password_and_code(
    client: TestClient, clock: Any, sign_in: Any, csrf: Any, password: str, totp: Any
) -> None:
    token = await sign_in(client, "ada")
    clock.advance(301)
    new_account = {
        "username": "newbie",
        "role": "editor",
        "password": "a fine long passphrase",
        "confirm": "a fine long passphrase",
        "csrf_token": token,
    }
    response = await client.post(
        "/console/users",
        data=new_account,
        headers={"Referer": "http://x/console/users"},
        allow_redirects=False,
    )
    assert response.status == 303
    assert unquote(response.headers["Location"]) == "/console/reauth?next=/console/users"
    page = await client.get(response.headers["Location"])
    assert "Code" in await page.text()
    confirm = await client.post(
        "/console/reauth",
        data={
            "password": password,
            "code": await totp(client, "ada"),
            "next": "/console/users",
            "csrf_token": token,
        },
        allow_redirects=False,
    )
    assert confirm.headers["Location"] == "/console/users"
    again = await client.post("/console/users", data=new_account, allow_redirects=False)
    assert again.headers["Location"] == "/console/users"
    assert "newbie can now sign in" in await (await client.get("/console/users")).text()


async def test_every_role_changes_its_own_password_and_ends_its_other_sessions(
    signed_in: Any, sign_in: Any, password: str
) -> None:
    here = await signed_in("eddie")
    elsewhere = await signed_in("eddie")
    page = await here.page("/console/account")
    assert page.count("<tr>") >= 3  # header + two sessions
    response = await here.post(
        "/console/account/password",
        {
            "current": password,
            "password": "another long passphrase",
            "confirm": "another long passphrase",
        },
    )
    assert "Password changed" in await response.text()
    assert (await here.client.get("/console/", allow_redirects=False)).status == 200
    assert (await elsewhere.client.get("/console/", allow_redirects=False)).status == 303
    await sign_in(elsewhere.client, "eddie", "another long passphrase")


async def test_sign_out_everywhere_else(signed_in: Any) -> None:
    here = await signed_in("eddie")
    elsewhere = await signed_in("eddie")
    await here.post("/console/account/sessions/end")
    assert (await here.client.get("/console/", allow_redirects=False)).status == 200
    assert (await elsewhere.client.get("/console/", allow_redirects=False)).status == 303


def test_password_policy_follows_asvs() -> None:
    for refused in ("password12", "password1234", "qwerty123456", "Password1234!", "short"):
        try:
            check_policy(refused)
        except PasswordPolicyError:
            continue
        raise AssertionError(f"{refused!r} was accepted")
    check_policy("tin roof rusted")  # no composition rules: long and uncommon is enough
    try:
        check_policy("ada lovelace is me", "lovelace")
    except PasswordPolicyError as exc:
        assert "username" in str(exc)
    else:
        raise AssertionError("a password holding the username was accepted")


async def test_passwords_are_checked_off_the_event_loop(fast_passwords: Passwords) -> None:
    import threading

    seen: list[str] = []

    class Recording(Passwords):
        def verify(self, stored_hash: str | None, password: str) -> bool:
            seen.append(threading.current_thread().name)
            return super().verify(stored_hash, password)

    passwords = Recording(fast_passwords._hasher, workers=1)
    stored = passwords.hash("a long test password")
    assert await passwords.verify_async(stored, "a long test password")
    assert seen and seen[0].startswith("argon2") and seen[0] != threading.main_thread().name
    passwords.close()
