"""The words of an alert SMS. Pure.

Every alert opens with a neutral prefix (``settings.sms_prefix``, e.g. ``Info:``):
a phone's lock screen shows the first words to whoever holds it, and for people on
the move a message opening with "Trafficking" or "Police" can itself be a danger.
:func:`sensitive_opening` lets the console warn the author before approval.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping

# Words that should not be the first a bystander reads. Machine-drafted beyond English
# and French; review: needed for ar and so.
SENSITIVE_WORDS: frozenset[str] = frozenset(
    {
        # en
        "trafficking", "trafficker", "traffickers", "smuggler", "smugglers", "smuggling",
        "police", "asylum", "refugee", "refugees", "migrant", "migrants", "deportation",
        "deport", "border", "detention", "arrest", "raid", "unhcr", "iom",
        # fr
        "traite", "trafic", "trafiquant", "passeur", "passeurs", "asile", "réfugié",
        "réfugiés", "expulsion", "frontière", "arrestation", "rafle",
        # ar (review: needed)
        "تهريب", "مهرب", "مهربين", "اتجار", "الاتجار", "شرطة", "الشرطة", "لجوء", "اللجوء",
        "لاجئ", "لاجئين", "ترحيل", "الحدود", "اعتقال",
        # so (review: needed)
        "tahriib", "musaafurin", "booliis", "booliska", "magangelyo", "qaxooti", "xadka",
        "xarig",
    }
)  # fmt: skip

OPENING_CHARACTERS = 40  # about what a lock-screen preview shows after the prefix
_WORD = re.compile(r"\w+", re.UNICODE)


def compose(prefix: str, text: str) -> str:
    """The SMS as sent: the neutral prefix, a space, the alert text."""
    text = text.strip()
    prefix = prefix.strip()
    if not prefix or text.startswith(prefix):
        return text
    return f"{prefix} {text}"


def text_for(texts: Mapping[str, str], language: str, fallback: str) -> str:
    """The alert in ``language``, else in the fallback language."""
    return texts.get(language) or texts[fallback]


def _fold(word: str) -> str:
    return unicodedata.normalize("NFKC", word).casefold()


def sensitive_opening(
    text: str,
    prefix: str = "",
    words: Iterable[str] = SENSITIVE_WORDS,
    window: int = OPENING_CHARACTERS,
) -> list[str]:
    """Sensitive words starting within the first ``window`` characters after ``prefix``."""
    body = text.strip()
    if prefix and body.startswith(prefix.strip()):
        body = body[len(prefix.strip()) :]
    body = body.lstrip()
    watched = {_fold(word) for word in words}
    return [
        match.group(0)
        for match in _WORD.finditer(body)
        if match.start() < window and _fold(match.group(0)) in watched
    ]
