"""Voice recordings: one audio file per (tree, screen, language), for languages AT's
text-to-speech does not read.

They live in ``GATEWAY_VOICE_RECORDINGS`` as ``<tree>/<screen>.<language>.mp3`` (or
``.wav``); the gateway serves them to AT at ``/voice/recordings/<tree>/<screen>/<language>``.
Only names made of letters, digits, ``_`` and ``-`` are looked up, so no request can
reach a file outside the folder. :func:`missing` lists what an operator still has to
record: counts of screens and languages, no caller data.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gateway.menu.model import Tree

_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AUDIO_TYPES = {".mp3": "audio/mpeg", ".wav": "audio/wav"}
# Screens the engine shows that are not in the tree: a recording can cover them too.
SPECIAL_SCREENS = ("__exit__", "__resume__", "__unavailable__")


@dataclass(frozen=True)
class Recording:
    path: Path
    content_type: str


class RecordingShelf:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def find(self, tree: str, screen: str, language: str) -> Recording | None:
        if not all(_NAME.match(part) for part in (tree, screen, language)):
            return None
        for suffix, content_type in AUDIO_TYPES.items():
            path = self.folder / tree / f"{screen}.{language}{suffix}"
            if path.is_file():
                return Recording(path, content_type)
        return None

    def missing(self, tree: Tree, languages: tuple[str, ...]) -> list[tuple[str, str]]:
        """(screen, language) pairs with no recording, for the languages that need one."""
        return [
            (screen, language)
            for screen in (*tree.screens, *SPECIAL_SCREENS)
            for language in languages
            if self.find(tree.id, screen, language) is None
        ]


def recording_path(tree: str, screen: str, language: str) -> str:
    """The URL path the gateway serves a recording at."""
    return f"/voice/recordings/{tree}/{screen}/{language}"
