"""Editing a menu tree's YAML the way the console's forms do: pure functions on text.

Each edit parses the draft, changes one thing and dumps it again, so a draft is
always a YAML document the loader reads. An edit that names a screen or option that
is not there raises :class:`DraftError` with a message for the operator; whether the
result is a *valid* tree is the validator's business, shown next to the screen.

The outline is the tree as operators think of it: from the start screen down through
the options, each screen shown once where it is first reached; later links to it
appear as "goes to".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from gateway.content.safe_yaml import YAMLRefused, dump_yaml, load_yaml
from gateway.errors import GatewayError

SCREEN_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{0,39}$")
SCREEN_TYPES = ("menu", "text", "content", "input", "action", "language")


class DraftError(GatewayError, ValueError):
    """An edit that cannot be made; the message is shown to the operator."""


def parse(text: str) -> dict[str, Any]:
    try:
        data = load_yaml(text, "the draft")
    except YAMLRefused as exc:
        raise DraftError(str(exc)) from exc
    if not isinstance(data, dict) or not isinstance(data.get("screens"), dict):
        raise DraftError("the draft must be a mapping with 'screens'")
    return data


def dump(data: dict[str, Any]) -> str:
    return dump_yaml(data)


def _screen(data: dict[str, Any], screen_id: str) -> dict[str, Any]:
    screen = data["screens"].get(screen_id)
    if not isinstance(screen, dict):
        raise DraftError(f"there is no screen {screen_id!r}")
    return screen


def _options(screen: dict[str, Any]) -> list[dict[str, Any]]:
    options = screen.get("options")
    if options is None:
        options = screen["options"] = []
    if not isinstance(options, list):
        raise DraftError("the screen's options are not a list")
    return options


def set_texts(
    text: str, screen_id: str, texts: dict[str, str], labels: dict[str, dict[str, str]]
) -> str:
    """Replace a screen's text per language and its options' labels per language.

    ``labels`` maps an option key to ``{language: label}``. Empty texts are dropped
    (the validator then reports the missing translation).
    """
    data = parse(text)
    screen = _screen(data, screen_id)
    cleaned = {lang: value.replace("\r\n", "\n").strip() for lang, value in texts.items()}
    screen["text"] = {lang: value for lang, value in cleaned.items() if value}
    for option in _options(screen):
        new = labels.get(str(option.get("key")))
        if new is not None:
            option["label"] = {lang: value.strip() for lang, value in new.items() if value.strip()}
    if not screen["options"]:
        del screen["options"]
    return dump(data)


def set_translations(
    text: str, language: str, texts: dict[str, str], labels: dict[tuple[str, str], str]
) -> str:
    """Set one language's text on many screens and option labels at once (the
    translations page). An empty value removes that translation."""
    data = parse(text)
    for screen_id, value in texts.items():
        screen = _screen(data, screen_id)
        current = screen.get("text")
        updated = {
            **(current if isinstance(current, dict) else {}),
            language: value.replace("\r\n", "\n").strip(),
        }
        screen["text"] = {lang: v for lang, v in updated.items() if v}
    for (screen_id, key), value in labels.items():
        for option in _options(_screen(data, screen_id)):
            if str(option.get("key")) == key:
                label = option.get("label")
                updated = {**(label if isinstance(label, dict) else {}), language: value.strip()}
                option["label"] = {lang: v for lang, v in updated.items() if v}
    for screen in data["screens"].values():
        if isinstance(screen, dict) and screen.get("options") == []:
            del screen["options"]
    return dump(data)


def add_screen(text: str, screen_id: str, kind: str, parent: str, key: str, label: str) -> str:
    """A new screen, reached from ``parent`` by a new option ``key`` labelled ``label``."""
    data = parse(text)
    if not SCREEN_ID.match(screen_id):
        raise DraftError(
            "a screen id uses lower-case letters, digits, '-' or '_' (at most 40 characters)"
        )
    if screen_id in data["screens"]:
        raise DraftError(f"a screen {screen_id!r} already exists")
    if kind not in SCREEN_TYPES:
        raise DraftError(f"unknown screen type {kind!r}")
    parent_screen = _screen(data, parent)
    options = _options(parent_screen)
    if any(str(option.get("key")) == key for option in options):
        raise DraftError(f"screen {parent!r} already has an option {key!r}")
    language = str(data.get("fallback_language") or (data.get("languages") or ["en"])[0])
    new: dict[str, Any] = {"type": kind, "text": {language: label}}
    if kind == "menu":
        new["options"] = []
    data["screens"][screen_id] = new
    options.append({"key": key, "goto": screen_id, "label": {language: label}})
    return dump(data)


def delete_screen(text: str, screen_id: str) -> str:
    """Remove a screen and every option that led to it."""
    data = parse(text)
    _screen(data, screen_id)
    if screen_id in (data.get("start"), data.get("home")):
        raise DraftError(f"{screen_id!r} is the tree's start or home screen; it cannot go")
    del data["screens"][screen_id]
    for screen in data["screens"].values():
        if isinstance(screen, dict) and isinstance(screen.get("options"), list):
            screen["options"] = [o for o in screen["options"] if o.get("goto") != screen_id]
    return dump(data)


def move_option(text: str, screen_id: str, key: str, delta: int) -> str:
    """Move an option up (-1) or down (+1) among its screen's options."""
    data = parse(text)
    options = _options(_screen(data, screen_id))
    index = next((i for i, o in enumerate(options) if str(o.get("key")) == key), None)
    if index is None:
        raise DraftError(f"screen {screen_id!r} has no option {key!r}")
    target = index + delta
    if 0 <= target < len(options):
        options[index], options[target] = options[target], options[index]
    return dump(data)


def renumber(text: str, screen_id: str) -> str:
    """Give a screen's options the keys 1, 2, 3... in their current order."""
    data = parse(text)
    for number, option in enumerate(_options(_screen(data, screen_id)), start=1):
        option["key"] = str(number)
    return dump(data)


def delete_option(text: str, screen_id: str, key: str) -> str:
    data = parse(text)
    screen = _screen(data, screen_id)
    options = _options(screen)
    kept = [o for o in options if str(o.get("key")) != key]
    if len(kept) == len(options):
        raise DraftError(f"screen {screen_id!r} has no option {key!r}")
    screen["options"] = kept
    return dump(data)


def move_screen(text: str, screen_id: str, old_parent: str, new_parent: str, key: str) -> str:
    """Reach ``screen_id`` from ``new_parent`` (option ``key``) instead of ``old_parent``."""
    data = parse(text)
    old_options = _options(_screen(data, old_parent))
    moved = next((o for o in old_options if o.get("goto") == screen_id), None)
    if moved is None:
        raise DraftError(f"screen {old_parent!r} has no option leading to {screen_id!r}")
    new_options = _options(_screen(data, new_parent))
    if any(str(o.get("key")) == key for o in new_options):
        raise DraftError(f"screen {new_parent!r} already has an option {key!r}")
    old_options.remove(moved)
    new_options.append({**moved, "key": key})
    return dump(data)


@dataclass
class OutlineNode:
    screen_id: str
    kind: str
    title: str
    key: str = ""  # the option key that leads here from the parent
    link_only: bool = False  # already shown higher up: only "goes to"
    missing: bool = False  # the link names no screen
    children: list[OutlineNode] = field(default_factory=list)


def outline(data: dict[str, Any], language: str) -> list[OutlineNode]:
    """The screens as a tree from start (then home, then anything unreached)."""
    screens: dict[str, Any] = data.get("screens") or {}
    seen: set[str] = set()

    def title(screen: dict[str, Any]) -> str:
        texts = screen.get("text") or {}
        if isinstance(texts, dict) and texts:
            value = texts.get(language) or next(iter(texts.values()))
            return str(value).split("\n", 1)[0][:60]
        return ""

    def visit(screen_id: str, key: str) -> OutlineNode:
        screen = screens.get(screen_id)
        if not isinstance(screen, dict):
            return OutlineNode(screen_id, "?", "", key=key, missing=True)
        node = OutlineNode(screen_id, str(screen.get("type", "menu")), title(screen), key=key)
        if screen_id in seen:
            node.link_only = True
            return node
        seen.add(screen_id)
        for option in screen.get("options") or []:
            if isinstance(option, dict) and option.get("goto"):
                node.children.append(visit(str(option["goto"]), str(option.get("key", ""))))
        if screen.get("goto"):
            node.children.append(visit(str(screen["goto"]), "→"))
        return node

    roots = []
    for root in (data.get("start"), data.get("home"), *screens):
        if isinstance(root, str) and root in screens and root not in seen:
            roots.append(visit(root, ""))
    return roots
