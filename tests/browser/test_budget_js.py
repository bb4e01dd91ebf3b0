"""The page's character budget counts exactly as gateway/sms/encoding.py does: the same
texts measured in Chromium and in Python give the same alphabet, length and SMS parts."""

from __future__ import annotations

import random
from typing import Any

from playwright.async_api import Browser

from gateway.console.sms_budget import sms_cost
from gateway.sms.encoding import Alphabet, measure

PIECES = [
    "a", "Z", "0", " ", "\n", "é", "ù", "Ä", "ß", "€", "^", "{", "}", "[", "]", "~", "|",
    "\\", "ç", "û", "ğ", "د", "س", "ሰ", "😀", "🇰🇪", "word ", "Info: ", "longer words here ",
]  # fmt: skip


def samples(count: int) -> list[str]:
    chooser = random.Random(20261124)
    texts = ["", "€" * 80, "a" * 160, "a" * 161, "😀" * 40, "ab " * 120]
    while len(texts) < count:
        length = chooser.choice((5, 60, 150, 170, 320, 500))
        texts.append("".join(chooser.choice(PIECES) for _ in range(length)))
    return texts


async def test_js_budget_agrees_with_python(
    browser: Browser, console: Any, sign_in_as: Any
) -> None:
    page = await sign_in_as(browser, console, "eddie")
    texts = samples(300)
    measured = await page.evaluate(
        """texts => texts.map(t => {
            const m = window.consoleBudget.measure(t);
            const p = window.consoleBudget.smsParts(t);
            return [m.gsm, m.used, p.parts];
        })""",
        texts,
    )
    for text, (gsm, used, parts) in zip(texts, measured, strict=True):
        alphabet, length = measure(text)
        assert gsm == (alphabet is Alphabet.GSM7), text
        assert used == length, text
        assert parts == sms_cost(text).parts, text
