from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gateway.settings import PROJECT_ROOT
from gateway.sms.keywords import (
    Catalog,
    CatalogError,
    CommandKind,
    build_catalog,
    load_catalog,
    parse,
)

CATALOG = load_catalog(PROJECT_ROOT / "content")

SAMPLES = [
    # (text, kind, argument, language)
    ("JOIN MED", CommandKind.JOIN, "med", "en"),
    ("subscribe hotlines", CommandKind.JOIN, "hotlines", "en"),
    ("STOP", CommandKind.STOP, "", "en"),
    ("unsubscribe", CommandKind.STOP, "", "en"),
    ("Cancel.", CommandKind.STOP, "", "en"),
    ("end", CommandKind.STOP, "", "en"),
    ("QUIT!", CommandKind.STOP, "", "en"),
    ("help", CommandKind.HELP, "", "en"),
    ("LANG fr", CommandKind.LANG, "fr", "en"),
    ("info hotlines", CommandKind.INFO, "hotlines", "en"),
    ("Inscrire safe", CommandKind.JOIN, "safe", "fr"),
    ("arrêt", CommandKind.STOP, "", "fr"),
    ("ARRET", CommandKind.STOP, "", "fr"),
    ("désabonner", CommandKind.STOP, "", "fr"),
    ("aide", CommandKind.HELP, "", "fr"),
    ("langue ar", CommandKind.LANG, "ar", "fr"),
    ("infos med", CommandKind.INFO, "med", "fr"),
    ("اشتراك 2", CommandKind.JOIN, "2", "ar"),
    ("توقف", CommandKind.STOP, "", "ar"),
    ("إلغاء", CommandKind.STOP, "", "ar"),
    ("الغاء", CommandKind.STOP, "", "ar"),
    ("مساعدة", CommandKind.HELP, "", "ar"),
    ("لغة so", CommandKind.LANG, "so", "ar"),
    ("معلومات 1", CommandKind.INFO, "1", "ar"),
    ("ku biir med", CommandKind.JOIN, "med", "so"),
    ("Jooji", CommandKind.STOP, "", "so"),
    ("ka bax", CommandKind.STOP, "", "so"),
    ("caawi", CommandKind.HELP, "", "so"),
    ("luqad en", CommandKind.LANG, "en", "so"),
    ("warbixin safe", CommandKind.INFO, "safe", "so"),
    ("  stop  ", CommandKind.STOP, "", "en"),
]


@pytest.mark.parametrize(("text", "kind", "argument", "language"), SAMPLES)
def test_keywords_in_every_shipped_language(
    text: str, kind: CommandKind, argument: str, language: str
) -> None:
    command = parse(text, CATALOG)
    assert (command.kind, command.argument, command.language) == (kind, argument, language)


def test_every_command_has_words_in_every_language() -> None:
    for language in CATALOG.languages:
        kinds = {kind for kind, lang in CATALOG.keywords.values() if lang == language}
        assert kinds == set(CommandKind) - {CommandKind.UNKNOWN}, language


def test_every_reply_exists_in_every_language() -> None:
    for name, texts in CATALOG.replies.items():
        assert set(texts) == set(CATALOG.languages), name


def test_unknown_text() -> None:
    assert parse("hello there", CATALOG).kind is CommandKind.UNKNOWN
    assert parse("", CATALOG).kind is CommandKind.UNKNOWN
    assert parse("stopping by later", CATALOG).kind is CommandKind.UNKNOWN


@settings(max_examples=200)
@given(st.text(max_size=200))
def test_any_text_parses_without_error(text: str) -> None:
    assert parse(text, CATALOG).kind in set(CommandKind)


def test_topics_by_code_alias_and_number() -> None:
    assert CATALOG.topic("route-central-med") is CATALOG.topic("med") is CATALOG.topic("1")
    assert CATALOG.topic("9") is None and CATALOG.topic("0") is None
    assert CATALOG.topic("nowhere") is None


def _minimal(**overrides: object) -> Catalog:
    keywords: dict[str, object] = {
        "default_language": "en",
        "languages": {"en": {}, "fr": {}},
        "commands": {"stop": {"en": ["STOP"], "fr": ["ARRET"]}},
        "replies": {"unknown": {"en": "?"}},
    }
    keywords.update(overrides)
    return build_catalog(keywords, {"topics": {}})


def test_catalog_errors_say_where() -> None:
    assert _minimal().keywords["stop"][0] is CommandKind.STOP
    with pytest.raises(CatalogError, match=r"commands\.stop has no fr words"):
        _minimal(commands={"stop": {"en": ["STOP"]}})
    with pytest.raises(CatalogError, match="means two commands"):
        _minimal(commands={"stop": {"en": ["X"], "fr": ["Y"]}, "help": {"en": ["X"], "fr": ["Z"]}})
    with pytest.raises(CatalogError, match="unknown command"):
        _minimal(commands={"dance": {"en": ["D"], "fr": ["D"]}})
