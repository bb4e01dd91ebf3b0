"""SMS keywords: JOIN <topic>, STOP, HELP, LANG <code>, INFO <topic>, MENU, in every language
of the content catalog (``content/keywords.yaml``, ``content/topics.yaml``).

:func:`parse` is pure: text in, :class:`Command` out. Matching folds case, accents,
Arabic hamza forms and diacritics, and extra spaces or punctuation, so ``stop.``,
``Arrêt`` / ``ARRET`` and ``إلغاء`` / ``الغاء`` read alike. The longest keyword wins
(``KU BIIR`` before ``BIIR``). :func:`load_catalog` reads the YAML files once.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.content.file_schema import FileSchema, schema_faults
from gateway.content.safe_yaml import YAMLRefused, read_yaml_file
from gateway.errors import GatewayError
from gateway.sms.keyword_schema import KeywordsSchema, TopicsSchema

# HELP is written from the topics with these, unless keywords.yaml words it itself.
_HELP_DEFAULTS = {
    "help": "Reply {joins}. Reply {stop} to end.",
    "help_topic": "{join} {code} for {title}",
    "help_separator": ", ",
}


class CatalogError(GatewayError, ValueError):
    """The keyword or topic catalog is malformed; the message says where."""


class CommandKind(StrEnum):
    JOIN = "join"
    STOP = "stop"
    HELP = "help"
    LANG = "lang"
    INFO = "info"
    MENU = "menu"  # opens the menu tree by SMS (gateway.ussd.sms_menu)
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Command:
    kind: CommandKind
    argument: str = ""
    language: str | None = None  # the language of the keyword used, if recognised


@dataclass(frozen=True)
class Topic:
    code: str
    aliases: tuple[str, ...]
    titles: Mapping[str, str]
    info: Mapping[str, str]


@dataclass(frozen=True)
class Catalog:
    default_language: str
    languages: tuple[str, ...]
    keywords: Mapping[str, tuple[CommandKind, str]]  # folded keyword -> (kind, language)
    replies: Mapping[str, Mapping[str, str]]  # reply name -> language -> text
    topics: tuple[Topic, ...]
    # The word a reply names for a command in a language: the first one listed.
    words: Mapping[tuple[CommandKind, str], str] = field(default_factory=dict)

    def word(self, kind: CommandKind, language: str) -> str:
        return self.words.get((kind, language)) or self.words.get(
            (kind, self.default_language), kind.value.upper()
        )

    def help_text(self, language: str) -> str:
        """HELP in plain words, from the topics: ``Reply JOIN MED for Central
        Mediterranean route, JOIN SAFETY for Safety warnings, STOP to end.``"""
        join = self.word(CommandKind.JOIN, language)
        separator = self.replies.get("help_separator", {}).get(language, ", ")
        joins = separator.join(
            self.reply(
                "help_topic",
                language,
                join=join,
                code=topic.aliases[0] if topic.aliases else topic.code,
                title=topic.titles.get(language) or topic.titles[self.default_language],
            )
            for topic in self.topics
        )
        return self.reply(
            "help",
            language,
            joins=joins,
            stop=self.word(CommandKind.STOP, language),
            menu=self.word(CommandKind.MENU, language),
        )

    def reply(self, name: str, language: str, **values: str) -> str:
        texts = self.replies[name]
        template = texts.get(language) or texts[self.default_language]
        return template.format(**values)

    def topic(self, word: str) -> Topic | None:
        """A topic by code, alias or position in the list (``JOIN 2``)."""
        folded = fold(word)
        if folded.isdigit():
            index = int(folded) - 1
            return self.topics[index] if 0 <= index < len(self.topics) else None
        for topic in self.topics:
            if folded == fold(topic.code) or folded in {fold(alias) for alias in topic.aliases}:
                return topic
        return None

    def topic_list(self) -> str:
        return ", ".join(topic.aliases[0] if topic.aliases else topic.code for topic in self.topics)


def fold(text: str) -> str:
    """Case, accents, Arabic diacritics and tatweel removed; spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(
        char for char in decomposed if not unicodedata.combining(char) and char != "\u0640"
    )
    return " ".join(unicodedata.normalize("NFKC", kept).casefold().split())


_EDGE_PUNCTUATION = " \t\r\n.,;:!?¿¡\"'()[]{}<>-_*#،؛؟"


def parse(text: str, catalog: Catalog) -> Command:
    """What an inbound SMS asks for. Anything unrecognised is ``UNKNOWN``."""
    folded = fold(text).strip(_EDGE_PUNCTUATION)
    words = folded.split()
    for length in range(min(3, len(words)), 0, -1):
        candidate = " ".join(words[:length]).strip(_EDGE_PUNCTUATION)
        match = catalog.keywords.get(candidate)
        if match is not None:
            kind, language = match
            argument = " ".join(words[length:]).strip(_EDGE_PUNCTUATION)
            return Command(kind, argument, language)
    return Command(CommandKind.UNKNOWN)


def load_catalog(content_dir: Path, fallback: Path | None = None) -> Catalog:
    """The catalog of ``content_dir``; a file it lacks is read from ``fallback`` (a
    service's own folder falls back to the default's, file by file)."""

    def found(name: str) -> Path:
        path = content_dir / name
        return fallback / name if fallback is not None and not path.exists() else path

    keywords_doc = _read_yaml(found("keywords.yaml"), KeywordsSchema)
    topics_doc = _read_yaml(found("topics.yaml"), TopicsSchema)
    return build_catalog(keywords_doc, topics_doc)


def _read_yaml(path: Path, schema: type[FileSchema]) -> Mapping[str, Any]:
    """The file's data, once it is safe YAML and matches ``schema`` (else ``file:line``)."""
    try:
        document = read_yaml_file(path)
    except YAMLRefused as exc:
        raise CatalogError(str(exc)) from exc
    if not isinstance(document.data, dict):
        raise CatalogError(f"{path} must hold a mapping")
    try:
        schema.model_validate(document.data)
    except ValidationError as exc:
        faults = schema_faults(exc, document, schema)
        raise CatalogError(
            "\n".join(f"{path}:{fault.line}: {fault.message}" for fault in faults)
        ) from None
    return document.data


def build_catalog(keywords_doc: Mapping[str, Any], topics_doc: Mapping[str, Any]) -> Catalog:
    languages = tuple(str(code) for code in keywords_doc.get("languages", {}))
    default = str(keywords_doc.get("default_language", "en"))
    if default not in languages:
        raise CatalogError(f"keywords.yaml: default_language {default!r} is not in languages")
    keywords: dict[str, tuple[CommandKind, str]] = {}
    first_words: dict[tuple[CommandKind, str], str] = {}
    for kind_name, per_language in dict(keywords_doc.get("commands", {})).items():
        try:
            kind = CommandKind(kind_name)
        except ValueError:
            raise CatalogError(f"keywords.yaml: unknown command {kind_name!r}") from None
        for language in languages:
            words = per_language.get(language) if isinstance(per_language, dict) else None
            if not words:
                raise CatalogError(f"keywords.yaml: commands.{kind_name} has no {language} words")
            first_words[(kind, language)] = str(words[0])
            for word in words:
                key = fold(str(word))
                if key in keywords and keywords[key][0] is not kind:
                    raise CatalogError(f"keywords.yaml: {word!r} means two commands")
                keywords.setdefault(key, (kind, language))
    replies: dict[str, dict[str, str]] = {}
    for name, texts in dict(keywords_doc.get("replies", {})).items():
        if not isinstance(texts, dict) or default not in texts:
            raise CatalogError(f"keywords.yaml: replies.{name} needs a {default} text")
        replies[str(name)] = {str(lang): str(text) for lang, text in texts.items()}
    topics = []
    for code, body in dict(topics_doc.get("topics", {})).items():
        if not isinstance(body, dict) or default not in body.get("title", {}):
            raise CatalogError(f"topics.yaml: topics.{code} needs a {default} title")
        topics.append(
            Topic(
                code=str(code),
                aliases=tuple(str(alias) for alias in body.get("aliases", [])),
                titles={str(k): str(v) for k, v in body["title"].items()},
                info={str(k): str(v) for k, v in body.get("info", {}).items()},
            )
        )
    for name, text in _HELP_DEFAULTS.items():  # a catalog written before plain-words HELP
        replies.setdefault(name, {default: text})
    return Catalog(default, languages, keywords, replies, tuple(topics), first_words)
