"""What an SMS keyword does, and the reply it gets (in the sender's language)."""

from __future__ import annotations

from gateway.broadcast.subscriptions import SubscriptionService
from gateway.sms.keywords import Catalog, Command, CommandKind


class KeywordService:
    def __init__(self, subscriptions: SubscriptionService, catalog: Catalog) -> None:
        self._subscriptions = subscriptions
        self._catalog = catalog

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    async def respond(self, msisdn: str, channel: str, command: Command, now: float) -> str | None:
        """Carry out ``command``; the reply text, or None when nothing should be sent."""
        catalog = self._catalog
        msisdn_hash = self._subscriptions.hash(msisdn)
        known = await self._subscriptions.language_of(msisdn_hash)
        language = known or command.language or catalog.default_language
        topics = catalog.topic_list()
        if command.kind is CommandKind.STOP:
            # Confirmed once: a second STOP changes nothing and gets no reply.
            changed = await self._subscriptions.stop(msisdn_hash, now, reason="sms_keyword")
            return catalog.reply("stopped", language) if changed else None
        if command.kind is CommandKind.JOIN:
            if not command.argument:
                return catalog.reply("which_topic", language, topics=topics)
            topic = catalog.topic(command.argument)
            if topic is None:
                return catalog.reply("unknown_topic", language, topics=topics)
            join_language = known if known is not None else (command.language or language)
            added = await self._subscriptions.join(msisdn, channel, topic.code, join_language, now)
            title = topic.titles.get(join_language) or topic.titles[catalog.default_language]
            return catalog.reply(
                "joined" if added else "already_joined", join_language, topic=title
            )
        if command.kind is CommandKind.LANG:
            wanted = command.argument.lower()
            if wanted not in catalog.languages:
                return catalog.reply("unknown_language", language)
            await self._subscriptions.set_language(msisdn_hash, wanted, now)
            return catalog.reply("language_set", wanted)
        if command.kind is CommandKind.INFO:
            topic = catalog.topic(command.argument) if command.argument else None
            if topic is None:
                return catalog.reply("unknown_topic", language, topics=topics)
            return topic.info.get(language) or topic.info.get(catalog.default_language, "")
        if command.kind is CommandKind.HELP or command.kind is CommandKind.MENU:
            # MENU reaches here only when the gateway serves no menu by SMS.
            return catalog.help_text(language)
        return catalog.reply("unknown", language)
