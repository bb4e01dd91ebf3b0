"""An operator's day in a real browser: sign in, edit a screen past its budget and
see the warning, publish with a second account, dial the simulator."""

from __future__ import annotations

from typing import Any

import yaml
from playwright.async_api import Browser, expect

from gateway.menu.pages import Limit, pages_of
from gateway.sms.encoding import length_in

MENU = "safe-journey"


async def test_sign_in_shows_the_dashboard_and_refuses_a_wrong_password(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(f"{console.url}/")
    await expect(page.locator("h1")).to_have_text("Sign in")
    await shoot(page, "login")
    await page.fill("input[name=username]", "eddie")
    await page.fill("input[name=password]", "not my password")
    await page.click("button[type=submit]")
    await expect(page.locator(".error")).to_contain_text("Wrong username or password")

    page = await sign_in_as(browser, console, "eddie")
    await expect(page.locator("td:has-text('smsc-b') + td .badge")).to_have_text("down")
    await shoot(page, "dashboard")
    await page.goto(f"{console.url}/audit")
    await expect(page.locator("p.ok")).to_contain_text("The chain verifies")
    await expect(page.locator("td:has-text('login_failed')")).to_have_count(1)
    await shoot(page, "audit")
    await page.goto(f"{console.url}/content")
    await expect(page.locator("section#hotlines h2")).to_contain_text("hotlines")
    await shoot(page, "content")
    # A small laptop screen: the menu editor stacks instead of overflowing.
    await page.set_viewport_size({"width": 800, "height": 700})
    await page.goto(f"{console.url}/menus/safe-journey?screen=main")
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 800
    await shoot(page, "menu-editor-narrow")


async def test_budget_turns_red_past_the_limit_and_publish_needs_a_second_person(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/menus/{MENU}?screen=main")
    # The script's count, options and navigation footer included, is the engine's.
    limit = Limit(console.settings.screen_limit)
    for language in console.live.current.languages:
        page = pages_of(
            console.live.current, console.live.current.screens["main"], language, "", limit
        )
        shown = await editor.locator(f"#budget-{language}").text_content()
        assert shown is not None
        if len(page.texts) == 1:
            assert shown.startswith(f"{length_in(page.texts[0], page.alphabet)} / "), language
    budget = editor.locator("#budget-en")
    await expect(budget).not_to_have_class("budget over")
    area = editor.locator("textarea[name='text.en']")
    await area.fill("Safe journey information for everyone " * 5)
    await expect(budget).to_have_class("budget over")
    await expect(budget).to_contain_text("too long by")
    await shoot(editor, "menu-editor-over-budget")
    # Back under the limit, saved as a draft.
    await area.fill("Safe travel info")
    await expect(budget).not_to_have_class("budget over")
    await editor.click("text=Save draft")
    await expect(editor.locator(".flash")).to_contain_text("Draft saved")
    await editor.goto(f"{console.url}/menus/{MENU}/versions")
    await expect(editor.locator("button:has-text('Publish')")).to_have_count(0)
    await expect(editor.locator("text=Waiting for an approver")).to_be_visible()

    approver = await sign_in_as(browser, console, "april")
    await approver.goto(f"{console.url}/menus/{MENU}/versions")
    approver.on("dialog", lambda dialog: dialog.accept())
    await shoot(approver, "menu-versions")
    await approver.click("button:has-text('Publish')")
    await expect(approver.locator(".flash")).to_contain_text("is live")
    await expect(approver.locator(".badge.published")).to_have_count(1)
    assert console.live.version.startswith("v")
    assert console.live.current.screens["main"].text["en"] == "Safe travel info"


async def test_simulator_dials_the_draft_in_french(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    tree = yaml.safe_load((console.settings.menus / f"{MENU}.yaml").read_text())
    french = {
        "main": tree["screens"]["main"]["text"]["fr"],
        "hotlines": tree["screens"]["hotlines"]["text"]["fr"],
        "exit": tree["navigation"]["exit"]["fr"],
    }
    page = await sign_in_as(browser, console, "eddie")
    await page.goto(f"{console.url}/menus/{MENU}?screen=main")
    await page.select_option("select[name=sim_lang]", "fr")
    await page.click("button:has-text('Dial')")
    screen = page.locator("[data-sim-screen]")
    await expect(screen).to_contain_text(french["main"])
    await page.fill("#simulator input[name=input]", "1")
    await page.click("button:has-text('Send')")
    await expect(screen).to_contain_text(french["hotlines"])
    await shoot(page, "simulator")
    await page.fill("#simulator input[name=input]", "99")
    await page.click("button:has-text('Send')")
    await expect(screen).to_contain_text(french["exit"])
