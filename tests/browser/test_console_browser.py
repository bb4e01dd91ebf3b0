"""An operator's day in a real browser: sign in, edit a screen past its budget and
see the warning, submit for review, publish with a second account, dial the simulator
(with the gateway's country aliases); the whole editor on a 375 px phone, where an
invalid draft is refused at submission with the problem under its field."""

from __future__ import annotations

import re
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
    await editor.click("button:has-text('Submit for review')")
    await expect(editor.locator(".flash")).to_contain_text("submitted for review")
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


# Every control the operator may use, on screen horizontally (the page scrolls down only).
CONTROLS_OFF_SCREEN = """(width) => {
  const off = [];
  const wanted = 'a, button, input:not([type=hidden]), textarea, select, summary';
  for (const el of document.querySelector('main').querySelectorAll(wanted)) {
    const box = el.getBoundingClientRect();
    if (box.width === 0 && box.height === 0) continue;  // inside a closed <details>
    if (box.left < -0.5 || box.right > width + 0.5)
      off.push(`${el.tagName} ${el.name || el.textContent.trim().slice(0, 30)}: ${box.right}`);
  }
  return off;
}"""


async def test_the_menu_editor_works_on_a_375_px_phone(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    await editor.set_viewport_size({"width": 375, "height": 740})
    for screen in ("main", "hotlines", "hotlines_country", "hotlines_sms"):
        await editor.goto(f"{console.url}/menus/{MENU}?screen={screen}")
        assert await editor.evaluate("document.documentElement.scrollWidth") <= 375, screen
        assert await editor.evaluate(CONTROLS_OFF_SCREEN, 375) == [], screen
        for area in await editor.locator("textarea").all():
            box = await area.bounding_box()
            assert box is not None and box["width"] >= 300, screen  # a box one can type in
    await editor.goto(f"{console.url}/menus/{MENU}?screen=main")
    await editor.locator("details:has-text('Add a screen') summary").click()
    assert await editor.evaluate(CONTROLS_OFF_SCREEN, 375) == []
    # The screen being edited comes first on a phone; the outline follows it.
    save = await editor.locator("button:has-text('Save draft')").bounding_box()
    outline = await editor.locator("#screens").bounding_box()
    assert save is not None and outline is not None and save["y"] < outline["y"]
    await editor.click("a.to-outline")
    await editor.locator("#screens a:has-text('routes')").first.click()
    await expect(editor.locator("h2", has_text="Screen “routes”")).to_be_visible()
    await editor.goto(f"{console.url}/menus/{MENU}?screen=main")
    labels = editor.locator("input[name='label.1.fr']")
    box = await labels.bounding_box()
    assert box is not None and box["width"] >= 200  # option labels stack, one per line
    await shoot(editor, "menu-editor-375")

    # A content screen shows what callers read, per language and country, with budgets.
    await editor.goto(f"{console.url}/menus/{MENU}?screen=hotlines&lang=en")
    kenya = editor.locator("#callers-en details", has_text="Callers from KE")
    await expect(kenya.locator("pre.phone-page").first).to_contain_text(
        "Kenya emergency: 999 or 112"
    )
    await expect(kenya.locator(".budget").first).to_have_text(
        re.compile(r"page 1: \d+ / 182 GSM7 characters")
    )
    await shoot(editor, "menu-editor-content-375")

    # Work in progress is saved, invalid; submitting it is refused, the problem shown
    # under the field it concerns.
    await editor.goto(f"{console.url}/menus/{MENU}?screen=hotlines_sms")
    area = editor.locator("textarea[name='text.en']")
    original = await area.input_value()
    await area.fill("Closing words " * 20)
    await editor.click("button:has-text('Save draft')")
    await expect(editor.locator(".flash")).to_contain_text("Draft saved")
    await expect(editor.locator("#not-submitted")).to_be_visible()
    submit = editor.locator("button:has-text('Submit for review')")
    box = await submit.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    await submit.click()
    await expect(editor.locator(".flash")).to_contain_text("Not submitted")
    under = editor.locator("#budget-en + .field-error")
    await expect(under).to_contain_text("a closing screen must fit one page")
    await shoot(editor, "menu-editor-refused-375")
    versions = await console.store.list_menu_versions(MENU)
    assert versions[0].submitted_at is None

    # Fixed, it is submitted; an approver on a phone publishes it.
    await editor.locator("textarea[name='text.en']").fill(original)
    await editor.click("button:has-text('Save draft')")
    await expect(editor.locator(".flash")).to_contain_text("Draft saved")
    await editor.click("button:has-text('Submit for review')")
    await expect(editor.locator(".flash")).to_contain_text("submitted for review")

    approver = await sign_in_as(browser, console, "april")
    await approver.set_viewport_size({"width": 375, "height": 740})
    await approver.goto(f"{console.url}/menus/{MENU}/versions")
    # The menu serves sample hotlines no operator verified: the approver is told.
    await expect(approver.locator("#freshness-warning")).to_contain_text(
        re.compile(r"hotlines ke-999: never verified by an operator, dated \d+ day")
    )
    publish = approver.locator("button:has-text('Publish')")
    box = await publish.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    assert await approver.evaluate("document.documentElement.scrollWidth") <= 375
    await shoot(approver, "menu-review-375")
    await publish.click()
    await expect(approver.locator(".flash")).to_contain_text("is live")
    await expect(approver.locator(".flash")).to_contain_text("ke-999")
