"""Content under four eyes in a real browser: an editor's hotline change reaches no
caller until an approver, who sees old and new number, publishes it; a CSV with only
English keeps the other translations and shows the validator's verdict; alias YAML is
refused at import at once; the versions pages fit a 375 px phone."""

from __future__ import annotations

import re
import time
from typing import Any

import aiohttp
import pytest
from playwright.async_api import Browser, expect

from gateway.menu import engine
from gateway.menu.pages import Limit

RECURSIVE_ALIAS = "tree: x\nscreens: &a\n  main: *a\n"
ALIAS_BOMB = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{n}: &{n} [{', '.join([f'*{p}'] * 9)}]\n"
        for p, n in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "screens: {main: *i}\n"
)


def _walk(tree: Any, limit: Limit) -> str:
    shown = engine.start(tree, language="en", country="KE", limit=limit)
    step = engine.step(tree, shown.state, "1", limit)
    return step.display.text


async def test_a_hotline_change_waits_for_the_approver_who_sees_old_and_new(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    before = _walk(console.live.current, Limit(console.settings.screen_limit))
    assert "Kenya emergency: 999 or 112" in before
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/content/entries/hotlines/ke-999")
    await editor.fill("input[name=number]", "112")
    await editor.fill("textarea[name='text.en']", "Kenya emergency: 112")
    await editor.click("text=Save in the draft")
    await expect(editor.locator(".flash")).to_contain_text("saved in draft")
    await expect(editor.locator("text=Waiting for an approver")).to_be_visible()
    # Not on the phone yet.
    assert "Kenya emergency: 999 or 112" in _walk(
        console.live.current, Limit(console.settings.screen_limit)
    )

    approver = await sign_in_as(browser, console, "april")
    await approver.set_viewport_size({"width": 375, "height": 740})
    await approver.goto(f"{console.url}/content/versions")
    number = approver.locator("details[data-subject='hotlines ke-999'] tr", has_text="number")
    await expect(number.locator("td.old")).to_have_text("999")
    await expect(number.locator("td.new")).to_have_text("112")
    await expect(approver.locator(".verdict.ok")).to_contain_text("The validator accepts it")
    # The sample entries say no operator verified them: the approver is told, per entry.
    await expect(approver.locator("#freshness-warning")).to_contain_text(
        re.compile(r"hotlines ke-116: never verified by an operator, dated \d+ day")
    )
    publish = approver.locator("button:has-text('Publish')")
    await expect(publish).to_be_visible()
    assert await approver.evaluate("document.documentElement.scrollWidth") <= 375
    await shoot(approver, "content-review-375")
    await publish.click()
    await expect(approver.locator(".flash")).to_contain_text("is live")
    await expect(approver.locator(".flash")).to_contain_text("never verified by an operator")
    after = _walk(console.live.current, Limit(console.settings.screen_limit))
    assert "Kenya emergency: 112" in after and "999 or 112" not in after
    await expect(approver.locator("button:has-text('Roll back to this')").first).to_be_visible()
    # The other pages an approver or editor opens on a phone fit its width as well.
    for path in ("/content", "/menus/safe-journey/versions"):
        await approver.goto(f"{console.url}{path}")
        width = await approver.evaluate("document.documentElement.scrollWidth")
        assert width <= 375, (path, width)
    await shoot(approver, "menu-versions-375")


async def test_a_csv_with_only_english_keeps_the_translations(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any, tmp_path: Any
) -> None:
    csv = tmp_path / "ke-116.csv"
    csv.write_text('id,text_en\nke-116,"Kenya child helpline: 116, free of charge"\n')
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/content")
    await editor.set_input_files("#import input[type=file]", str(csv))
    await editor.click("#import button:has-text('Preview')")
    await expect(editor.locator("#preview .verdict")).to_contain_text(
        "The validator accepts the result"
    )
    changed = editor.locator("details[data-subject='hotlines ke-116'] tr.changed")
    await expect(changed).to_have_count(1)
    await expect(changed.locator("td.new")).to_have_text(
        "Kenya child helpline: 116, free of charge"
    )
    await shoot(editor, "content-csv-preview")
    await editor.click("text=Save as a draft for review")
    await expect(editor.locator(".flash")).to_contain_text("as draft")
    await expect(editor.locator("details[data-subject='hotlines ke-116'] td.old")).to_have_count(
        1
    )  # one field changes; fr, ar, so are kept


async def test_alias_yaml_is_refused_at_import_at_once(
    browser: Browser, console: Any, sign_in_as: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    cookies = await editor.context.cookies()
    jar = {c["name"]: c["value"] for c in cookies}
    await editor.goto(f"{console.url}/menus/safe-journey/versions")
    token = await editor.locator("input[name=csrf_token]").first.get_attribute("value")
    async with aiohttp.ClientSession(cookies=jar) as http:
        for text in (RECURSIVE_ALIAS, ALIAS_BOMB):
            started = time.perf_counter()
            response = await http.post(
                f"{console.url}/menus/safe-journey/import",
                data={"csrf_token": token or "", "yaml": text},
            )
            page = await response.text()
            elapsed = time.perf_counter() - started
            assert response.status == 200
            assert "Not imported" in page and "are not allowed" in page
            assert elapsed < 2.0, elapsed  # refused as read, never expanded
    assert await console.store.list_menu_versions("safe-journey") == []
    await editor.goto(f"{console.url}/menus/safe-journey/versions")
    await expect(editor.locator("h1")).to_contain_text("Versions")


@pytest.fixture
async def gateway(make_gateway: Any) -> Any:
    return await make_gateway(sms_channel="none")


CALLERS = iter(range(1, 100))


async def hotlines_screen(gateway: Any, session: str) -> str:
    """A new caller (a new number each time: nothing remembered) dials from Kenya."""
    caller = f"+2547000000{next(CALLERS):02d}"
    await gateway.dial(session, "", caller)  # language choice
    await gateway.dial(session, "1", caller)  # English
    return await gateway.dial(session, "1*1", caller)  # Hotlines


async def test_on_the_phone_only_after_an_approver_publishes_and_after_a_broken_restart(
    browser: Browser, gateway: Any, sign_in_as: Any, shoot: Any
) -> None:
    assert "Kenya emergency: 999 or 112" in await hotlines_screen(gateway, "before")
    editor = await sign_in_as(browser, gateway, "eddie")
    await editor.goto(f"{gateway.url}/console/content/entries/hotlines/ke-999")
    await editor.fill("input[name=number]", "112")
    await editor.fill("textarea[name='text.en']", "Kenya emergency: 112")
    await editor.click("text=Save in the draft")
    await expect(editor.locator(".flash")).to_contain_text("saved in draft")
    phone = await hotlines_screen(gateway, "draft")
    assert "Kenya emergency: 999 or 112" in phone and "Kenya emergency: 112\n" not in phone

    approver = await sign_in_as(browser, gateway, "april")
    await approver.goto(f"{gateway.url}/console/content/versions")
    number = approver.locator("details[data-subject='hotlines ke-999'] tr", has_text="number")
    await expect(number.locator("td.old")).to_have_text("999")
    await expect(number.locator("td.new")).to_have_text("112")
    await approver.click("button:has-text('Publish')")
    await expect(approver.locator(".flash")).to_contain_text("is live")
    assert "Kenya emergency: 112" in await hotlines_screen(gateway, "published")

    # Restart with broken files on disk: the last published version is served, loudly.
    await gateway.stop()
    hotlines = gateway.settings.content / "hotlines.yaml"
    hotlines.write_text(hotlines.read_text().replace("    number:", "    numbr:", 1))
    await gateway.start()
    assert "Kenya emergency: 112" in await hotlines_screen(gateway, "restarted")
    approver = await sign_in_as(browser, gateway, "april")
    banner = approver.locator("p.banner")
    await expect(banner).to_contain_text("do not validate")
    await expect(banner).to_contain_text("hotlines.yaml")
    await shoot(approver, "dashboard-serving-published")
