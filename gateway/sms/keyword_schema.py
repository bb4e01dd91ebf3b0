"""The declared shape of ``content/keywords.yaml`` and ``content/topics.yaml``.

Every key they may have; anything else is refused with its line. Whether every
command has words in every language, and every reply a default-language text, is
checked by :func:`gateway.sms.keywords.build_catalog`.
"""

from __future__ import annotations

from gateway.content.file_schema import FileSchema


class LanguageSchema(FileSchema):
    name: str | None = None
    review: str | None = None  # "needed" while a fluent speaker must check it


class KeywordsSchema(FileSchema):
    sample: bool = False
    default_language: str = "en"
    languages: dict[str, LanguageSchema | None]
    commands: dict[str, dict[str, list[str]]]
    replies: dict[str, dict[str, str]]


class TopicSchema(FileSchema):
    aliases: list[str] | None = None
    title: dict[str, str]
    info: dict[str, str] | None = None
    review: str | None = None


class TopicsSchema(FileSchema):
    sample: bool = False
    topics: dict[str, TopicSchema]
