"""Voice recordings under four eyes: one audio file per (tree, screen, language), for
languages AT's text-to-speech does not read.

A recording is caller-visible content (callers hear it), so it goes live like any
content: an editor uploads it (a *draft*), an approver who uploaded no part of it
publishes it, and only a published recording is ever played. Its versions are rows of
the store's version table (``menu_versions``, named ``recording:<tree>/<screen>/<lang>``,
each holding the audio's SHA-256, type and size as JSON); the audio itself is a file in
``GATEWAY_VOICE_RECORDINGS`` named by its SHA-256 (``blobs/<sha256>.mp3``), written once,
never changed: which file callers hear is decided by the store's published row alone.
The gateway serves a recording to AT at ``/voice/recordings/<tree>/<screen>/<language>``
(published only); the console plays any version to the people reviewing it.

Uploads are checked by their bytes, not their name or the browser's word: an MP3 (an
``ID3`` tag or an MPEG audio frame header) or a RIFF/WAVE file, not empty, at most
:data:`MAX_BYTES`. Only names of letters, digits, ``_`` and ``-`` are looked up, so no
request reaches a file outside the folder. No caller data is involved anywhere here.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from gateway.errors import GatewayError
from gateway.store.port import Store
from gateway.store.records import MenuVersion

PREFIX = "recording:"
MAX_BYTES = 1_500_000  # about 90 s of 128 kbit/s MP3, or 90 s of 8 kHz 16-bit WAV
_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
AUDIO_TYPES = {"audio/mpeg": ".mp3", "audio/wav": ".wav"}
# Screens the engine shows that are not in the tree: a recording can cover them too.
SPECIAL_SCREENS = ("__exit__", "__resume__", "__unavailable__")


class RecordingError(GatewayError, ValueError):
    """An upload that cannot be a recording; the message says why, for the operator."""


@dataclass(frozen=True)
class Recording:
    path: Path
    content_type: str


@dataclass(frozen=True)
class Audio:
    """What a version row says about its audio."""

    sha256: str
    content_type: str
    size: int

    def to_text(self) -> str:
        return json.dumps({"sha256": self.sha256, "type": self.content_type, "bytes": self.size})

    @classmethod
    def from_text(cls, text: str) -> Audio | None:
        try:
            data = json.loads(text)
            audio = cls(str(data["sha256"]), str(data["type"]), int(data["bytes"]))
        except (ValueError, KeyError, TypeError):
            return None
        if not re.fullmatch(r"[0-9a-f]{64}", audio.sha256) or audio.content_type not in AUDIO_TYPES:
            return None
        return audio


def sniff(data: bytes) -> str:
    """The audio type of ``data`` from its first bytes, or :class:`RecordingError`."""
    if not data:
        raise RecordingError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise RecordingError(
            f"The file is {len(data):,} bytes; a recording may be at most {MAX_BYTES:,} "
            "(about 90 seconds of MP3)."
        )
    if data[:3] == b"ID3" or (len(data) > 1 and data[0] == 0xFF and data[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WAVE":
        return "audio/wav"
    raise RecordingError(
        "This is not an MP3 or WAV file (its first bytes are neither an MP3 header nor "
        "RIFF/WAVE): export the recording as MP3 or WAV and upload it again."
    )


def name_of(tree: str, screen: str, language: str) -> str:
    """The version name of one recording, or :class:`RecordingError`."""
    if not all(_NAME.fullmatch(part) for part in (tree, screen, language)):
        raise RecordingError("No such screen or language.")
    return f"{PREFIX}{tree}/{screen}/{language}"


def recording_path(tree: str, screen: str, language: str) -> str:
    """The URL path the gateway serves a published recording at."""
    return f"/voice/recordings/{tree}/{screen}/{language}"


@dataclass(frozen=True)
class Slot:
    """One screen in one language that is played, not said: what the console lists."""

    tree: str
    screen: str
    language: str
    live: MenuVersion | None  # the published recording callers hear
    draft: MenuVersion | None  # an upload waiting for an approver
    authors: frozenset[str]  # who uploaded the waiting draft(s): none of them publishes


@dataclass(frozen=True)
class PublishOutcome:
    published: bool
    message: str
    four_eyes: bool = False


class RecordingLibrary:
    """Recordings in the store's versions and the folder's files."""

    def __init__(self, store: Store, folder: Path) -> None:
        self.store = store
        self.folder = folder

    def blob(self, audio: Audio) -> Path:
        return self.folder / "blobs" / f"{audio.sha256}{AUDIO_TYPES[audio.content_type]}"

    async def published(self, tree: str, screen: str, language: str) -> Recording | None:
        """The recording callers hear for this screen and language, if one is published."""
        try:
            name = name_of(tree, screen, language)
        except RecordingError:
            return None
        version = await self.store.published_menu(name)
        return self.file_of(version) if version is not None else None

    def file_of(self, version: MenuVersion) -> Recording | None:
        audio = Audio.from_text(version.tree_yaml)
        if audio is None or not version.menu_name.startswith(PREFIX):
            return None
        path = self.blob(audio)
        return Recording(path, audio.content_type) if path.is_file() else None

    async def version(self, version_id: int) -> MenuVersion | None:
        version = await self.store.get_menu_version(version_id)
        if version is None or not version.menu_name.startswith(PREFIX):
            return None
        return version

    async def upload(
        self,
        tree: str,
        screen: str,
        language: str,
        data: bytes,
        author: str,
        now: float,
        service: str = "",
    ) -> MenuVersion:
        """Save ``data`` as a draft recording (audited under ``service``, the store key
        of the tree's service); :class:`RecordingError` if it is not one."""
        name = name_of(tree, screen, language)
        content_type = sniff(data)
        audio = Audio(hashlib.sha256(data).hexdigest(), content_type, len(data))
        await asyncio.to_thread(self._write_once, self.blob(audio), data)
        # Checked whole as it is saved (its bytes are audio): submitted for review at once.
        draft = await self.store.create_menu_version(
            name, audio.to_text(), author, now, submitted=True
        )
        await self.store.append_audit(
            author,
            "recording_upload",
            name,
            {
                "version": str(draft.id),
                "type": content_type,
                "bytes": len(data),
                "sha256": audio.sha256,
            },
            now,
            service=service,
        )
        return draft

    @staticmethod
    def _write_once(path: Path, data: bytes) -> None:
        if path.is_file():
            return  # the same bytes, by their hash
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        try:
            with os.fdopen(handle, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    async def slot(self, tree: str, screen: str, language: str) -> Slot:
        versions = sorted(
            await self.store.list_menu_versions(name_of(tree, screen, language)),
            key=lambda version: version.id,
            reverse=True,
        )
        live = next((v for v in versions if v.state == "published"), None)
        waiting = [v for v in versions if v.state == "draft" and (live is None or v.id > live.id)]
        return Slot(
            tree,
            screen,
            language,
            live,
            waiting[0] if waiting else None,
            frozenset(v.author for v in waiting),
        )

    async def slots(
        self, tree: str, screens: Iterable[str], languages: Iterable[str]
    ) -> list[Slot]:
        wanted = tuple(languages)
        return [
            await self.slot(tree, screen, language)
            for screen in (*screens, *SPECIAL_SCREENS)
            for language in wanted
        ]

    async def publish(
        self, version_id: int, approver: str, now: float, service: str = ""
    ) -> PublishOutcome:
        """Publish a draft recording: the newest one of its screen and language, by an
        approver who uploaded none of the waiting drafts (audited)."""
        version = await self.version(version_id)
        if version is None:
            return PublishOutcome(False, "No such recording.")
        tree, screen, language = version.menu_name[len(PREFIX) :].split("/")
        slot = await self.slot(tree, screen, language)
        if slot.draft is None or slot.draft.id != version.id:
            return PublishOutcome(False, "Only the newest upload waiting for approval can go live.")
        if approver in slot.authors:
            return PublishOutcome(
                False,
                "You uploaded this recording: another approver must publish it (four-eyes rule).",
                four_eyes=True,
            )
        if self.file_of(version) is None:
            return PublishOutcome(False, "Not published: its audio file is missing.")
        if not await self.store.publish_menu_version(version.id, approver, now):
            return PublishOutcome(False, "Not published: it changed.")
        await self.store.append_audit(
            approver,
            "recording_publish",
            version.menu_name,
            {
                "version": str(version.id),
                "author": version.author,
                "replaces": str(slot.live.id) if slot.live else "",
            },
            now,
            service=service,
        )
        return PublishOutcome(
            True, f"Recording v{version.id} ({screen}, {language}) is live: callers hear it."
        )
