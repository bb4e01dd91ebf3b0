"""In Chromium: the console names the SMS channel and its state, refuses Send when no
channel works (saying why), and the progress bar never goes backwards. The sending
path is the real worker through the ``log`` channel (a file, numbers hashed)."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from playwright.async_api import Browser, expect

from gateway.broadcast.alert_service import AlertDraft, AlertService
from gateway.broadcast.subscriptions import SubscriptionService
from gateway.broadcast.worker import BroadcastWorker, WorkerOptions
from gateway.privacy.numbers import NumberVault, PhoneHasher
from gateway.sms.channel_status import ChannelStatus
from gateway.sms.log_sender import LogSMSSender

NONE = ChannelStatus("none", "off", False, "no SMSC, no Africa's Talking API key")
LOG = ChannelStatus("log", "up", True, "demo: written to sms-log.jsonl")
PEOPLE = 30


async def test_no_channel_refuses_send_then_the_log_channel_sends_with_honest_progress(
    browser: Browser, console: Any, sign_in_as: Any, shoot: Any
) -> None:
    settings = console.settings
    hasher = PhoneHasher(settings.hash_key)
    people = SubscriptionService(console.store, hasher, NumberVault(settings.encryption_key))
    for index in range(PEOPLE):
        await people.join(f"+2547200000{index:02d}", "africastalking", "route-alerts", "en", 0.0)
    alerts = AlertService(console.store)
    now = time.time()
    draft = AlertDraft(
        texts={"en": "Sample alert: the coast road is closed tonight."},
        fallback_language="en",
        topics=("route-alerts",),
        source="sample",
        author="eddie",
        expires_at=now + 3600,
    )
    alert = await alerts.create(draft, now)
    await alerts.approve(alert, "april", now)

    console.channels[:] = [NONE]
    page = await sign_in_as(browser, console, "april")
    page.on("dialog", lambda dialog: dialog.accept())
    await page.goto(f"{console.url}/")
    card = page.locator("#sms-channels")
    await expect(card.locator("[data-channel='none']")).to_contain_text("off")
    await expect(card).to_contain_text("Alerts cannot be sent")
    await page.goto(f"{console.url}/alerts/{alert}")
    await expect(page.locator("#channels")).to_contain_text("none")
    await page.click("button:has-text('Send now')")
    await expect(page.locator(".flash")).to_contain_text(
        "Not sent: no SMS channel can send right now"
    )
    await expect(page.locator("h1 .badge.approved")).to_be_visible()
    await shoot(page, "alert-refused-no-channel")

    console.channels[:] = [LOG]
    log_path = settings.data_dir / "sms-log.jsonl"
    worker = BroadcastWorker(
        console.store,
        LogSMSSender(log_path, hasher.hash),
        NumberVault(settings.encryption_key),
        WorkerOptions(channel="log", tps=10.0, sms_prefix="Info:", batch_size=3, poll_interval=0.2),
    )
    stop = asyncio.Event()
    running = asyncio.create_task(worker.run(stop=stop))
    try:
        await page.click("button:has-text('Send now')")
        await expect(page.locator(".flash")).to_contain_text("Sending started through log up.")
        await expect(page.locator("#channels [data-channel='log']")).to_contain_text("up")
        # Record every value the bar takes while the page polls.
        await page.evaluate(
            """() => {
                const bar = document.querySelector('#progress progress');
                window.seen = [Number(bar.value)];
                new MutationObserver(() => window.seen.push(Number(bar.value)))
                    .observe(bar, {attributes: true});
                setInterval(() => window.seen.push(Number(bar.value)), 100);
            }"""
        )
        label = page.locator("[data-progress-label]")
        await expect(label).to_contain_text(f"{PEOPLE} of {PEOPLE} sent (100%)", timeout=60_000)
        await expect(label).to_contain_text("0 delivered")  # nothing confirmed it
        seen: list[float] = await page.evaluate("window.seen")
        await shoot(page, "alert-sent-log-channel")
    finally:
        stop.set()
        await running
    assert seen == sorted(seen), "the progress bar went backwards"
    assert seen[-1] == PEOPLE and len(set(seen)) > 2  # it moved, in steps, to the end
    written = log_path.read_text(encoding="utf-8")
    assert written.count("\n") == PEOPLE and "+2547200000" not in written
