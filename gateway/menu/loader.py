"""Reading a menu tree from YAML, with the line of every screen and option kept.

The YAML shape (see ``menus/safe-journey.yaml`` for a whole tree)::

    tree: safe-journey
    languages: [en, fr, ar, so]
    fallback_language: en
    start: language          # first screen for a caller with no language yet
    home: main               # where 00 leads
    language_names: {en: English, fr: Français, ...}
    navigation: {more: {en: "98 More", ...}, back: ..., home: ..., invalid: ..., exit: ...}
    screens:
      main:
        type: menu
        text: {en: "Safe journey info", fr: "..."}
        options:
          - {key: "1", goto: hotlines, label: {en: Hotlines, fr: Numéros utiles}}

The file is read by :mod:`gateway.content.safe_yaml` (anchors and aliases refused)
and checked against :class:`gateway.menu.tree_schema.TreeSchema` (unknown keys and
wrong types refused). Structural faults (a screen of an unknown type, an option with no
``goto``) are collected as :class:`Problem` values and raised together as :class:`TreeError`;
the semantic checks (links, reachability, translations, lengths) live in
:mod:`gateway.menu.validator`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from gateway.content.catalog import Catalog
from gateway.content.file_schema import schema_faults
from gateway.content.safe_yaml import YAMLDocument, YAMLRefused, read_yaml_text
from gateway.errors import GatewayError
from gateway.menu.model import (
    Action,
    Option,
    Screen,
    ScreenKind,
    Texts,
    Tree,
    Validation,
)
from gateway.menu.tree_schema import TreeSchema


@dataclass(frozen=True)
class Problem:
    """One fault in a tree, located for the person who must fix it."""

    file: str
    line: int
    screen: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        screen = f" screen {self.screen!r}:" if self.screen else ""
        return f"{where}:{screen} {self.message}"


class TreeError(GatewayError, ValueError):
    """A tree that cannot be loaded or does not validate; never goes live."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(problem) for problem in problems))


Path_ = tuple[str | int, ...]


def load_tree_file(
    path: Path,
    catalogs: Mapping[str, Catalog],
    country_aliases: tuple[tuple[str, str], ...] = (),
) -> Tree:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise TreeError([Problem(str(path), 0, "", f"cannot read: {exc}")]) from exc
    return load_tree_text(text, str(path), catalogs, country_aliases)


def load_tree_text(
    text: str,
    source: str,
    catalogs: Mapping[str, Catalog],
    country_aliases: tuple[tuple[str, str], ...] = (),
) -> Tree:
    """Parse (anchors and aliases refused), check the schema, then build the tree."""
    try:
        document = read_yaml_text(text, source)
    except YAMLRefused as exc:
        raise TreeError([Problem(source, exc.line, "", exc.message)]) from exc
    if not isinstance(document.data, dict):
        raise TreeError([Problem(source, 1, "", "a tree must be a YAML mapping")])
    try:
        TreeSchema.model_validate(document.data)
    except ValidationError as exc:
        problems = [
            Problem(source, fault.line, _screen_of(fault.path), fault.message)
            for fault in schema_faults(exc, document, TreeSchema)
        ]
        raise TreeError(problems) from None
    tree = _Builder(document).build(document.data, catalogs)
    return replace(tree, country_aliases=country_aliases)


def _screen_of(path: Path_) -> str:
    return str(path[1]) if len(path) > 1 and path[0] == "screens" else ""


class _Builder:
    def __init__(self, document: YAMLDocument) -> None:
        self.source = document.source
        self.document = document
        self.problems: list[Problem] = []

    def fault(self, path: Path_, screen: str, message: str) -> None:
        self.problems.append(Problem(self.source, self.document.line_of(path), screen, message))

    def texts(self, raw: Any, path: Path_, screen: str, name: str) -> dict[str, str]:
        if raw is None:
            return {}
        if isinstance(raw, str):
            self.fault(path, screen, f"{name!r} must map language codes to text, not a string")
            return {}
        if not isinstance(raw, dict):
            self.fault(path, screen, f"{name!r} must map language codes to text")
            return {}
        return {str(lang): str(value).rstrip() for lang, value in raw.items() if value}

    def build(self, data: Any, catalogs: Mapping[str, Catalog]) -> Tree:
        if not isinstance(data, dict):
            raise TreeError([Problem(self.source, 1, "", "a tree must be a YAML mapping")])
        languages = data.get("languages")
        if not isinstance(languages, list) or not languages:
            self.fault(("languages",), "", "'languages' must be a non-empty list")
            languages = ["en"]
        fallback = str(data.get("fallback_language", languages[0]))
        if fallback not in languages:
            self.fault(("fallback_language",), "", f"fallback {fallback!r} not in languages")
        raw_screens = data.get("screens")
        if not isinstance(raw_screens, dict) or not raw_screens:
            self.fault(("screens",), "", "'screens' must be a non-empty mapping")
            raw_screens = {}
        screens = {
            str(screen_id): screen
            for screen_id, raw in raw_screens.items()
            if (screen := self.screen(str(screen_id), raw)) is not None
        }
        navigation_raw = data.get("navigation") or {}
        navigation = {
            str(word): self.texts(texts, ("navigation", str(word)), "", f"navigation.{word}")
            for word, texts in (navigation_raw.items() if isinstance(navigation_raw, dict) else ())
        }
        names = self.texts(data.get("language_names"), ("language_names",), "", "language_names")
        for key in ("start", "home"):
            if not data.get(key):
                self.fault((key,), "", f"{key!r} (a screen id) is required")
        if self.problems:
            raise TreeError(self.problems)
        return Tree(
            id=str(data.get("tree", Path(self.source).stem)),
            languages=tuple(str(lang) for lang in languages),
            fallback_language=fallback,
            start=str(data["start"]),
            home=str(data["home"]),
            screens=screens,
            navigation=navigation,
            language_names=names,
            catalogs=dict(catalogs),
            sample=bool(data.get("sample", False)),
            source=self.source,
            service_codes=tuple(str(code) for code in data.get("service_codes") or ()),
            sms_number=str(data.get("sms_number") or "").strip(),
        )

    def screen(self, screen_id: str, raw: Any) -> Screen | None:
        path: Path_ = ("screens", screen_id)
        if not isinstance(raw, dict):
            self.fault(path, screen_id, "a screen must be a mapping")
            return None
        try:
            kind = ScreenKind(raw.get("type", "menu"))
        except ValueError:
            kinds = ", ".join(k.value for k in ScreenKind)
            self.fault((*path, "type"), screen_id, f"unknown type {raw.get('type')!r} ({kinds})")
            return None
        options = tuple(self.options(screen_id, raw.get("options"), path))
        action = self.enum(Action, raw.get("action"), (*path, "action"), screen_id)
        validation = self.enum(Validation, raw.get("validate"), (*path, "validate"), screen_id)
        if kind is ScreenKind.ACTION and action is None:
            self.fault(path, screen_id, "an action screen needs 'action'")
        if kind is ScreenKind.INPUT and (validation is None or not raw.get("goto")):
            self.fault(path, screen_id, "an input screen needs 'validate' and 'goto'")
        if kind is ScreenKind.CONTENT and not raw.get("catalog"):
            self.fault(path, screen_id, "a content screen needs 'catalog'")
        entries = raw.get("entries") or []
        return Screen(
            id=screen_id,
            kind=kind,
            text=self.texts(raw.get("text"), (*path, "text"), screen_id, "text"),
            options=options,
            goto=str(raw["goto"]) if raw.get("goto") else None,
            end=bool(raw.get("end", False)),
            action=action,
            topic=str(raw["topic"]) if raw.get("topic") else None,
            copy_of=str(raw["copy_of"]) if raw.get("copy_of") else None,
            validation=validation,
            variable=str(raw.get("variable", "country" if validation else "")) or None,
            error=self.texts(raw.get("error"), (*path, "error"), screen_id, "error"),
            catalog=str(raw["catalog"]) if raw.get("catalog") else None,
            entries=tuple(str(entry) for entry in entries),
            line=self.document.line_of(path),
        )

    def enum(self, enum: Any, raw: Any, path: Path_, screen_id: str) -> Any:
        if raw is None:
            return None
        try:
            return enum(raw)
        except ValueError:
            allowed = ", ".join(member.value for member in enum)
            self.fault(path, screen_id, f"unknown value {raw!r} (one of: {allowed})")
            return None

    def options(self, screen_id: str, raw: Any, path: Path_) -> list[Option]:
        if raw is None:
            return []
        if not isinstance(raw, list):
            self.fault((*path, "options"), screen_id, "'options' must be a list")
            return []
        options = []
        for index, item in enumerate(raw):
            where: Path_ = (*path, "options", index)
            if not isinstance(item, dict) or "key" not in item or "goto" not in item:
                self.fault(where, screen_id, f"option {index + 1} needs 'key', 'label', 'goto'")
                continue
            label: Texts = self.texts(item.get("label"), (*where, "label"), screen_id, "label")
            options.append(
                Option(
                    key=str(item["key"]),
                    label=label,
                    goto=str(item["goto"]),
                    line=self.document.line_of(where),
                )
            )
        return options
