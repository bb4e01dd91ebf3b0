"""Recordings are recognised by their bytes (pure), and their names cannot leave the folder."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.content.recordings import MAX_BYTES, Audio, RecordingError, name_of, sniff


@pytest.mark.parametrize(
    ("start", "kind"),
    [
        (b"ID3\x04\x00", "audio/mpeg"),
        (b"\xff\xfb\x90\x00", "audio/mpeg"),  # an MPEG-1 layer III frame, no tag
        (b"\xff\xf3\x64\xc4", "audio/mpeg"),  # MPEG-2
        (b"RIFF\x24\x08\x00\x00WAVEfmt ", "audio/wav"),
    ],
)
def test_mp3_and_wav_are_known_by_their_first_bytes(start: bytes, kind: str) -> None:
    assert sniff(start + b"\x00" * 32) == kind


@pytest.mark.parametrize(
    "data",
    [
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 8,
        b"RIFF\x24\x08\x00\x00AVI LIST",  # RIFF, but a video
        b"<html>not audio</html>",
        b"OggS\x00\x02",  # a real audio format AT does not play
    ],
)
def test_anything_else_is_refused_with_a_sentence(data: bytes) -> None:
    with pytest.raises(RecordingError, match="not an MP3 or WAV file"):
        sniff(data)


def test_empty_and_oversized_files_are_refused() -> None:
    with pytest.raises(RecordingError, match="empty"):
        sniff(b"")
    with pytest.raises(RecordingError, match="at most"):
        sniff(b"ID3" + b"\x00" * MAX_BYTES)


@given(st.binary(max_size=64))
def test_any_bytes_give_a_type_or_a_refusal_never_another_error(data: bytes) -> None:
    with contextlib.suppress(RecordingError):
        assert sniff(data) in ("audio/mpeg", "audio/wav")


@pytest.mark.parametrize(
    "parts", [("..", "main", "ar"), ("t", "a/b", "ar"), ("t", "main", "ar\n"), ("", "m", "ar")]
)
def test_names_outside_letters_digits_dash_underscore_are_refused(
    parts: tuple[str, str, str],
) -> None:
    with pytest.raises(RecordingError):
        name_of(*parts)


def test_a_version_row_that_is_not_audio_is_ignored() -> None:
    assert Audio.from_text("tree: x") is None
    assert Audio.from_text('{"sha256": "../x", "type": "audio/mpeg", "bytes": 1}') is None
    good = Audio("a" * 64, "audio/wav", 10)
    assert Audio.from_text(good.to_text()) == good
