"""An alert from composition to delivery, in a real browser, over the real sending
path: compose, approve as a second person, send, watch the progress bar reach 100%,
then the delivery chart; an alert quoting a hotline no operator verified warns its
approver, naming the entry and its age."""

from __future__ import annotations

import re
from typing import Any

from playwright.async_api import Browser, expect


async def test_compose_approve_send_and_watch_it_deliver(
    browser: Browser, console: Any, sending: Any, sign_in_as: Any, shoot: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/alerts/new")
    area = editor.locator("textarea[name='text.en']")
    await area.fill("Police checks on the coast road tonight. Use the inland road.")
    await expect(editor.locator("#sms-en")).to_contain_text("1 SMS part")
    await editor.fill("textarea[name='text.fr']", "Contrôles ce soir sur la route côtière.")
    await expect(editor.locator("#sms-fr")).to_contain_text("UCS-2")
    await editor.check("input[name=topic][value='route-alerts']")
    # The count follows the ticks without a reload; half the subscribers chose French.
    await expect(editor.locator("[data-audience]")).to_have_text("30 subscribers would receive it.")
    await editor.check("input[name=only_language][value='fr']")
    await expect(editor.locator("[data-audience]")).to_have_text("15 subscribers would receive it.")
    await editor.uncheck("input[name=only_language][value='fr']")
    await editor.fill("input[name=source]", "Field team, checked by phone")
    await editor.click("button:has-text('Check cost and audience')")
    await expect(editor.locator("[data-audience]")).to_have_text("30 subscribers would receive it.")
    await expect(editor.locator(".warning").first).to_contain_text("Police")
    await shoot(editor, "alert-compose")
    await editor.click("button:has-text('Save for approval')")
    await expect(editor.locator(".flash")).to_contain_text("Another person must approve it")
    await expect(editor.locator("button:has-text('Approve')")).to_have_count(0)
    alert_url = editor.url

    approver = await sign_in_as(browser, console, "april")
    approver.on("dialog", lambda dialog: dialog.accept())
    await approver.goto(alert_url)
    await expect(approver.locator("#freshness-warning")).to_have_count(0)  # quotes no number
    await approver.click("button:has-text('Approve')")
    await expect(approver.locator(".flash")).to_have_text("Approved.")
    await approver.click("button:has-text('Send now')")
    await expect(approver.locator(".badge.sending")).to_be_visible()
    bar = approver.locator("#progress progress")
    await shoot(approver, "alert-sending")
    # The page polls the status endpoint; when the worker finishes, it reloads.
    await expect(approver.locator(".badge.done")).to_be_visible(timeout=60_000)
    await expect(bar).to_have_attribute("data-percent", "100")
    # Receipts come back from the AT double through the gateway's callback.
    await expect(approver.locator("[data-progress-label]")).to_contain_text(
        "30 delivered", timeout=30_000
    )
    await expect(approver.locator("svg.chart polyline")).to_have_count(4)
    await shoot(approver, "alert-delivered")
    assert sending.double.total == 30
    texts = {item.text for item in sending.double.received}
    assert all(text.startswith(console.settings.sms_prefix) for text in texts)


async def test_an_alert_quoting_an_unverified_hotline_warns_its_approver(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    editor = await sign_in_as(browser, console, "eddie")
    await editor.goto(f"{console.url}/alerts/new")
    await editor.fill("textarea[name='text.en']", "Road closed at the border. Danger: call 999.")
    await editor.check("input[name=topic][value='route-alerts']")
    await editor.fill("input[name=source]", "Field team, checked by phone")
    await editor.click("button:has-text('Save for approval')")
    await expect(editor.locator(".flash")).to_contain_text("Another person must approve it")
    alert_url = editor.url

    approver = await sign_in_as(browser, console, "april")
    await approver.set_viewport_size({"width": 375, "height": 740})
    await approver.goto(alert_url)
    warning = approver.locator("#freshness-warning")
    await expect(warning).to_be_visible()
    # The sample hotline 999 says it was never verified by an operator: named, with its age.
    await expect(warning).to_contain_text(
        re.compile(r"hotlines ke-999 \(999\): never verified by an operator, dated \d+ day")
    )
    approve = approver.locator("button:has-text('Approve')")
    box = await approve.bounding_box()
    assert box is not None and box["x"] + box["width"] <= 375
    await shoot(approver, "alert-unverified-hotline-375")
    await approve.click()
    flash = approver.locator(".flash")
    await expect(flash).to_contain_text("Approved.")
    await expect(flash).to_contain_text("hotlines ke-999: never verified by an operator")
