"""Two services on two codes, in Chromium: the whole gateway (``create_app``) answers
USSD over Africa's Talking and SMS keywords on each service's code, and two operators,
each an editor on one service, see only their own service in the console; an editor
and an approver on the second service change its menu, live on its code only, and
still served after a restart."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.async_api import Browser, expect

from gateway.store.records import Audience, NewBroadcast
from tests.menu.test_services_apart import WORK_TOPICS

WORK = """\
tree: work-rights
content: work-rights
service_codes: ["*384*2#", "21213"]
sample: true
languages: [en]
start: main
home: main
language_names: {en: English}
navigation:
  more: {en: "98 More"}
  back: {en: "0 Back"}
  home: {en: "00 Home"}
  invalid: {en: "Invalid choice."}
  exit: {en: "Bye."}
  resume: {en: "Continue?\\n1 Yes\\n2 No"}
  unavailable: {en: "Busy."}
  voice_keys: {en: "Press the number."}
screens:
  main:
    type: menu
    text: {en: "Work rights (sample)"}
    options:
      - {key: "1", goto: join, label: {en: "Job alerts"}}
  join:
    type: action
    action: subscribe
    topic: jobs
    end: true
    text: {en: "You will get job alerts."}
"""


async def text(gateway: Any, to: str, words: str, caller: str, message_id: str) -> None:
    await gateway.callback(
        "/africastalking/sms",
        {"from": caller, "to": to, "text": words, "id": message_id, "date": "x"},
    )


@pytest.fixture
async def two_services(make_gateway: Any) -> tuple[Any, dict[str, int]]:
    """The whole gateway with a second tree (work-rights, on its own codes) beside the
    shipped one; sam edits the shipped service, wendy work-rights, wes approves on
    work-rights only; one alert each."""
    gateway = await make_gateway(
        operators={"sam": "none", "wendy": "none", "wes": "approver"},
        files={"menus/work.yaml": WORK, "content/work-rights/topics.yaml": WORK_TOPICS},
        sms_channel="none",
    )
    store = gateway.store
    for username, service in (("sam", ""), ("wendy", "work-rights")):
        await store.set_service_role(username, service, "editor")
    await store.set_service_role("wes", "", "none")  # an approver, on work-rights only
    alerts = {}
    for name, key, topic in (("safe-journey", "", "route-central-med"),
                             ("work-rights", "work-rights", "jobs")):  # fmt: skip
        alerts[name] = await store.create_broadcast(
            NewBroadcast({"en": f"Sample {name} alert"}, "en", Audience((topic,), service=key),
                         "sample source", "someone", 4_000_000_000.0),
            0.0,
        )  # fmt: skip
    return gateway, alerts


async def test_two_services_two_codes_two_operators(
    browser: Browser, two_services: tuple[Any, dict[str, int]], sign_in_as: Any, shoot: Any
) -> None:
    gateway, alerts = two_services
    # USSD over AT: each code reaches its own tree; subscribing in work-rights' menu
    # makes a work-rights subscriber.
    assert (await gateway.dial("d1", "", "+254700000101", "*384#")).startswith("CON Language")
    work = await gateway.dial("w1", "", "+254700000102", "*384*2#")
    assert work.startswith("CON Work rights (sample)")
    assert "job alerts" in await gateway.dial("w1", "1", "+254700000102", "*384*2#")
    # SMS over AT: JOIN on each service's number joins that service's topic.
    await text(gateway, "21213", "JOIN JOBS", "+254700000103", "m1")
    await text(gateway, "21212", "JOIN MED", "+254700000104", "m2")
    assert await gateway.store.subscriber_counts() == {"": 1, "work-rights": 2}

    for username, own, other, own_topic, other_topic in (
        ("sam", "safe-journey", "work-rights", "route-central-med", "jobs"),
        ("wendy", "work-rights", "safe-journey", "jobs", "route-central-med"),
    ):
        page = await sign_in_as(browser, gateway, username)
        switch = page.locator("#service-switch option")
        assert await switch.all_inner_texts() == [
            own + (" (*384*2#, 21213)" if own == "work-rights" else "")
        ]
        dashboard = await page.content()
        assert own_topic in dashboard and other_topic not in dashboard
        await shoot(page, f"services-dashboard-{username}")
        await page.goto(f"{gateway.url}/console/alerts")
        await expect(page.locator(f"a[href$='/alerts/{alerts[own]}']")).to_have_count(1)
        await expect(page.locator(f"a[href$='/alerts/{alerts[other]}']")).to_have_count(0)
        refused = await page.goto(f"{gateway.url}/console/alerts/{alerts[other]}")
        assert refused is not None and refused.status == 403
        page_text = await page.content()
        assert re.search("another service", page_text)
        await page.context.close()


async def test_a_second_services_menu_is_edited_and_published_in_the_browser(
    browser: Browser, two_services: tuple[Any, dict[str, int]], sign_in_as: Any, shoot: Any
) -> None:
    gateway, _ = two_services
    caller = "+254700000105"
    default_home = await gateway.dial("d1", "", caller, "*384#")
    assert (await gateway.dial("w1", "", caller, "*384*2#")).startswith("CON Work rights")

    editor = await sign_in_as(browser, gateway, "wendy")  # editor on work-rights only
    await editor.goto(f"{gateway.console_url}/menus/work?screen=main")
    await editor.locator("textarea[name='text.en']").fill("Work rights: new office hours")
    await editor.click("text=Save draft")
    await expect(editor.locator(".flash")).to_contain_text("Draft saved")
    await editor.click("button:has-text('Submit for review')")
    await expect(editor.locator(".flash")).to_contain_text("submitted for review")
    await expect(editor.locator("button:has-text('Publish')")).to_have_count(0)
    # sam, an editor on the shipped service only, cannot open it.
    other = await sign_in_as(browser, gateway, "sam")
    refused = await other.goto(f"{gateway.console_url}/menus/work")
    assert refused is not None and refused.status == 403
    await other.context.close()
    assert (await gateway.dial("w2", "", caller, "*384*2#")).startswith("CON Work rights (sample)")

    approver = await sign_in_as(browser, gateway, "wes")  # approver on work-rights only
    await approver.goto(f"{gateway.console_url}/menus/work/versions")
    approver.on("dialog", lambda dialog: dialog.accept())
    await expect(approver.locator("#review")).to_contain_text("Work rights: new office hours")
    await shoot(approver, "services-second-menu-review")
    await approver.click("button:has-text('Publish')")
    await expect(approver.locator(".flash")).to_contain_text("is live")
    # Live on work-rights' code at once; the shipped service's code is unchanged.
    work = await gateway.dial("w3", "", caller, "*384*2#")
    assert work.startswith("CON Work rights: new office hours")
    assert await gateway.dial("d2", "", caller, "*384#") == default_home
    await editor.context.close()
    await approver.context.close()

    # Restarted on the same database: work-rights' published version is served.
    await gateway.stop()
    await gateway.start()
    work = await gateway.dial("w4", "", caller, "*384*2#")
    assert work.startswith("CON Work rights: new office hours")
    assert await gateway.dial("d3", "", caller, "*384#") == default_home
