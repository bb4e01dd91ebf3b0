"""An approver's first sign-in in Chromium: set up the second factor from the QR page,
keep the recovery codes, reach the dashboard; then sign in again with a code."""

from __future__ import annotations

from typing import Any

from playwright.async_api import Browser

PASSWORD = "a long test password"


async def test_totp_enrolment_and_sign_in_in_chromium(
    browser: Browser, console: Any, totp_code: Any, shoot: Any
) -> None:
    await console.store.create_operator(
        "petra", (await console.store.get_operator("april")).password_hash, "approver", 0.0
    )
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(15_000)
    page = await context.new_page()
    await page.goto(f"{console.url}/login")
    await page.fill("input[name=username]", "petra")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")

    await page.wait_for_selector("h1:has-text('Set up your second factor')")
    # The QR code is drawn in the page itself (inline SVG): nothing is fetched.
    assert await page.locator("figure.qr svg").count() == 1
    assert await page.locator("img").count() == 0
    secret = (await page.locator("#totp-secret").inner_text()).replace(" ", "")
    await shoot(page, "second-factor-enrol")
    await page.fill("input[name=code]", await totp_code(console.store, "petra", secret))
    await page.click("button[type=submit]")

    await page.wait_for_selector("h1:has-text('Your recovery codes')")
    codes = await page.locator("ul.recovery-codes code").all_inner_texts()
    assert len(codes) == 10 and len(set(codes)) == 10
    await page.click("a:has-text('continue')")
    await page.wait_for_selector("h1:has-text('Dashboard')")

    await page.click("button:has-text('Sign out')")
    await page.wait_for_selector("h1:has-text('Sign in')")
    await page.fill("input[name=username]", "petra")
    await page.fill("input[name=password]", PASSWORD)
    await page.click("button[type=submit]")
    await page.wait_for_selector("input[name=code]")
    await page.fill("input[name=code]", "123 456")
    await page.click("button[type=submit]")
    await page.wait_for_selector("text=That code did not work")
    await page.fill("input[name=code]", await totp_code(console.store, "petra", secret))
    await page.click("button[type=submit]")
    await page.wait_for_selector("h1:has-text('Dashboard')")
    await context.close()
