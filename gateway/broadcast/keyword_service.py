"""What an SMS keyword does, and the reply it gets (in the sender's language).

Several services on one gateway: the number texted picks the service (its store key,
"" for the default). JOIN subscribes to that service's topics, from its own catalog
(its content folder's ``topics.yaml`` and ``keywords.yaml``, or the default's).

STOP is instant and errs on the side of silence. On a number a service claims as its
own (``service_codes``), STOP ends that service's subscriptions and queued messages;
the person keeps the other services they joined. On any other number (the default's,
or the shared sender an alert came from, where nobody can tell which service sent it)
STOP ends every service at once: a person who answers STOP must not keep receiving
messages because they replied to the wrong number. Either way, a person left with no
subscription anywhere is opted out and their sealed number forgotten.
"""

from __future__ import annotations

from collections.abc import Mapping

from gateway.broadcast.subscriptions import SubscriptionService
from gateway.sms.keywords import Catalog, Command, CommandKind


class KeywordService:
    def __init__(
        self,
        subscriptions: SubscriptionService,
        catalog: Catalog,
        catalogs: Mapping[str, Catalog] | None = None,
    ) -> None:
        self._subscriptions = subscriptions
        self._catalog = catalog
        # Services with content of their own: store key -> their catalog.
        self.catalogs: dict[str, Catalog] = dict(catalogs or {})

    @property
    def catalog(self) -> Catalog:
        return self._catalog

    def catalog_for(self, service: str) -> Catalog:
        return self.catalogs.get(service, self._catalog)

    async def respond(
        self,
        msisdn: str,
        channel: str,
        command: Command,
        now: float,
        service: str = "",
        own_number: bool = False,
    ) -> str | None:
        """Carry out ``command`` for ``service`` (a store key); ``own_number`` says the
        number texted is one that service claims. The reply text, or None when nothing
        should be sent."""
        catalog = self.catalog_for(service)
        msisdn_hash = self._subscriptions.hash(msisdn)
        known = await self._subscriptions.language_of(msisdn_hash)
        language = known or command.language or catalog.default_language
        topics = catalog.topic_list()
        if command.kind is CommandKind.STOP:
            # Confirmed once: a second STOP changes nothing and gets no reply.
            changed = await self._subscriptions.stop(
                msisdn_hash, now, reason="sms_keyword", service=service if own_number else None
            )
            return catalog.reply("stopped", language) if changed else None
        if command.kind is CommandKind.JOIN:
            if not command.argument:
                return catalog.reply("which_topic", language, topics=topics)
            topic = catalog.topic(command.argument)
            if topic is None:
                return catalog.reply("unknown_topic", language, topics=topics)
            join_language = known if known is not None else (command.language or language)
            added = await self._subscriptions.join(
                msisdn, channel, topic.code, join_language, now, service=service
            )
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
