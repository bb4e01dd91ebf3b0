"""Keywords end to end: the AT inbound callback, the store, and the replies at the double."""

from __future__ import annotations

import asyncio

from gateway.sms.keywords import CommandKind
from tests.broadcast.conftest import CALLBACK_SECRET, Harness, number


async def mo(harness: Harness, sender: str, text: str, message_id: str) -> int:
    response = await harness.http.post(
        f"{harness.callback_base}?key={CALLBACK_SECRET}",
        data={"from": sender, "to": "21212", "text": text, "id": message_id, "date": "2026"},
    )
    await harness.inbox.drain()
    return response.status


async def replies(harness: Harness, sender: str) -> list[str]:
    await asyncio.sleep(0)
    return [m.text for m in harness.double.messages_to(sender)]


async def test_join_then_stop_in_french(harness: Harness) -> None:
    who = number(1)
    assert await mo(harness, who, "INSCRIRE med", "m1") == 200
    person = await harness.store.get_subscriber(harness.subscriptions.hash(who))
    assert person is not None and person.language == "fr"
    subs = await harness.store.subscriptions(person.id)
    assert [s.topic for s in subs] == ["route-central-med"]
    await mo(harness, who, "arrêt", "m2")
    await mo(harness, who, "ARRET", "m3")  # confirmed once
    texts = await replies(harness, who)
    assert texts[0].startswith("Vous recevrez les infos Route de la Méditerranée centrale")
    assert texts[1:] == ["Vous ne recevrez plus de messages. Répondez INSCRIRE pour reprendre."]


async def test_duplicate_mo_is_stored_once_and_answered_once(harness: Harness) -> None:
    who = number(2)
    assert await mo(harness, who, "JOIN hotlines", "dup-1") == 200
    assert await mo(harness, who, "JOIN hotlines", "dup-1") == 200
    rows = await harness.store.fetchall("SELECT command FROM inbound_messages")
    assert [row[0] for row in rows] == ["join"]
    assert len(await replies(harness, who)) == 1


async def test_replies_in_arabic_and_somali(harness: Harness) -> None:
    await mo(harness, number(3), "اشتراك 4", "a1")
    await mo(harness, number(4), "ku biir 4", "s1")
    assert (await replies(harness, number(3)))[0].startswith("ستصلك تحديثات خطوط المساعدة")
    assert (await replies(harness, number(4)))[0].startswith("Waxaad heli doontaa warka")


async def test_lang_changes_the_reply_language(harness: Harness) -> None:
    who = number(5)
    await mo(harness, who, "JOIN 4", "l1")
    await mo(harness, who, "LANG so", "l2")
    await mo(harness, who, "HELP", "l3")
    texts = await replies(harness, who)
    assert texts[1] == "Luqadda waa Soomaali."
    assert texts[2].startswith("Jawaab KU BIIR MED si aad u hesho Waddada Badda Dhexe, ")
    assert texts[2].endswith("Jawaab JOOJI si aad u joojiso, LIIS si aad u hesho liiska.")


async def test_help_says_in_plain_words_how_to_join_each_topic_and_stop(harness: Harness) -> None:
    catalog = harness.keywords.catalog
    for language in catalog.languages:
        text = catalog.help_text(language)
        assert "<" not in text and "{" not in text
        for topic in catalog.topics:
            assert f"{catalog.word(CommandKind.JOIN, language)} {topic.aliases[0]}" in text
            assert (topic.titles.get(language) or topic.titles["en"]) in text
        assert catalog.word(CommandKind.STOP, language) in text
    assert catalog.help_text("en").startswith("Reply JOIN MED for Central Mediterranean route, ")
    assert catalog.help_text("en").endswith("Reply STOP to end, MENU for the menu.")
    assert "، اشتراك EAST" in catalog.help_text("ar")


async def test_unknown_text_and_unknown_topic_get_short_help(harness: Harness) -> None:
    await mo(harness, number(6), "hello?", "u1")
    await mo(harness, number(6), "JOIN moon", "u2")
    await mo(harness, number(6), "INFO safe", "u3")
    texts = await replies(harness, number(6))
    assert texts[0] == "Sorry, not understood. Reply HELP for options."
    assert texts[1].startswith("Unknown topic. Topics: MED, EAST, SAFETY, HOTLINE")
    assert texts[2].startswith("Nobody may keep your papers")
    assert await harness.store.get_subscriber(harness.subscriptions.hash(number(6))) is None


async def test_at_optout_notification_counts_as_stop(harness: Harness) -> None:
    who = number(7)
    await mo(harness, who, "JOIN 4", "o1")
    assert await harness.double.post_opt_out(who) == 200
    person = await harness.store.get_subscriber(harness.subscriptions.hash(who))
    assert person is not None and person.opted_out_at is not None
    assert len(await replies(harness, who)) == 1  # no reply to an opt-out
