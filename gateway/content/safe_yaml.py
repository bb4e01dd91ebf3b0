"""The one way the gateway reads YAML an operator wrote: menu trees, catalogs, keywords,
topics, alert imports, simulator scripts.

PyYAML's ``safe_load`` still expands aliases: a 1 KB "billion laughs" document
(``&a [*b, *b, ...]`` nested ten deep) takes seconds and gigabytes to expand, and a
recursive alias builds a self-referencing list that breaks whatever walks it later.
Nothing we ship needs an anchor, so this reader refuses every anchor (``&name``) and
alias (``*name``) the moment the parser meets one, with its line, before anything is
expanded. Nesting deeper than :data:`MAX_DEPTH` and a key given twice in one mapping
(PyYAML silently keeps the last one) are refused too. Any document is therefore read
in time linear in its length.

The document comes back with the 1-based line of every mapping value and sequence
item, keyed by its path, so a schema error can point at ``file:line``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from gateway.errors import GatewayError

# Deep enough for any file we ship (a tree is about 6 levels), shallow enough that the
# recursive composer and constructor never come near Python's recursion limit.
MAX_DEPTH = 40

YAMLPath = tuple[str | int, ...]


class YAMLRefused(GatewayError, ValueError):
    """A YAML document that is not valid, or uses a feature we refuse; says where."""

    def __init__(self, source: str, line: int, message: str) -> None:
        self.source = source
        self.line = line
        self.message = message
        where = f"{source}:{line}" if line else source
        super().__init__(f"{where}: {message}")


class _RefusingLoader(yaml.SafeLoader):
    """A safe loader whose composer raises on an anchor, an alias, or deep nesting."""

    source = "<yaml>"

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = 0

    def _refuse(self, mark: Any, message: str) -> YAMLRefused:
        return YAMLRefused(self.source, mark.line + 1 if mark is not None else 0, message)

    def fetch_more_tokens(self) -> None:
        # The scanner keeps a possible key per open flow level and rechecks them all on
        # every token: 1,000 nested ``[`` cost it quadratic time before the composer's
        # depth check runs, so the bound is enforced here as well.
        if self.flow_level > MAX_DEPTH:
            raise self._refuse(self.get_mark(), f"nested deeper than {MAX_DEPTH} levels")
        super().fetch_more_tokens()

    def compose_node(self, parent: yaml.Node | None, index: int) -> yaml.Node | None:
        event = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            raise self._refuse(
                event.start_mark, f"YAML aliases (*{event.anchor}) are not allowed: write it out"
            )
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise self._refuse(
                event.start_mark, f"YAML anchors (&{anchor}) are not allowed: write it out"
            )
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise self._refuse(event.start_mark, f"nested deeper than {MAX_DEPTH} levels")
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1


@dataclass(frozen=True)
class YAMLDocument:
    """A parsed document and where each of its parts was written."""

    source: str
    data: Any
    lines: Mapping[YAMLPath, int] = field(default_factory=dict)

    def line_of(self, path: YAMLPath) -> int:
        """The line of ``path``, or of its nearest ancestor that has one (0: unknown)."""
        key = tuple(str(part) for part in path)
        for cut in range(len(key), -1, -1):
            line = self.lines.get(key[:cut])
            if line is not None:
                return line
        return 0


def read_yaml_text(text: str, source: str = "<yaml>") -> YAMLDocument:
    """Parse ``text``; :class:`YAMLRefused` (with file and line) on anything refused."""
    loader = _RefusingLoader(text)
    loader.source = source
    try:
        root = loader.get_single_node()
        lines: dict[YAMLPath, int] = {}
        if root is not None:
            _walk(root, (), lines, source)
        data = loader.construct_document(root) if root is not None else None
    except YAMLRefused:
        raise
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
        line = mark.line + 1 if mark is not None else 0
        raise YAMLRefused(source, line, f"not valid YAML: {_one_line(exc)}") from exc
    except (TypeError, ValueError) as exc:  # a constructor refusing a value (a bad date)
        raise YAMLRefused(source, 0, f"not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return YAMLDocument(source, data, lines)


def read_yaml_file(path: Path) -> YAMLDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise YAMLRefused(str(path), 0, f"cannot read: {exc}") from exc
    return read_yaml_text(text, str(path))


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Only the data, for callers that have no use for line numbers."""
    return read_yaml_text(text, source).data


def _walk(node: yaml.Node, path: tuple[str, ...], lines: dict[YAMLPath, int], source: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            name = str(key.value)
            if isinstance(key, yaml.ScalarNode):
                if name in seen:
                    raise YAMLRefused(
                        source, key.start_mark.line + 1, f"key {name!r} is given twice"
                    )
                seen.add(name)
            lines[(*path, name)] = key.start_mark.line + 1
            _walk(value, (*path, name), lines, source)
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, str(index)), lines, source)


def _one_line(exc: yaml.YAMLError) -> str:
    return " ".join(str(exc).split())


class _NoAliasDumper(yaml.SafeDumper):
    """Writes a value shared by two keys out twice instead of as an anchor and an
    alias: the reader above would refuse the file it writes otherwise."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def dump_yaml(data: Any) -> str:
    """``data`` as YAML the reader above accepts (no anchors), in the order given."""
    return yaml.dump(data, Dumper=_NoAliasDumper, allow_unicode=True, sort_keys=False, width=100)
