"""How an SMSC writes a message id in its receipts, compared to its submit_sm_resp. Pure.

SMSCs disagree (Kannel's ``msg-id-type``, Jasmin's ``dlr_msgid``): the submit_sm_resp
may say ``1a2b`` and the receipt ``6699`` (hex-to-dec), or the other way round
(dec-to-hex), or the same id in another case or with leading zeros (as-is). Reading
every id in every base at once makes live ids alias each other (``10`` and ``16``),
so each SMSC has ONE format: configured, or learned (:class:`FormatLearner`) only from
evidence that leaves no doubt.
"""

from __future__ import annotations

import re
from enum import StrEnum

_HEX = re.compile(r"[0-9a-f]{1,40}")
_DECIMAL = re.compile(r"[0-9]{1,40}")
_HEX_LETTER = re.compile(r"[a-f]")

# Matches where exactly one format fits, all for the same format and none for another,
# before ``auto`` trusts it. One could be a stray duplicate receipt meeting an aliased
# live id; sixteen in a row, with no counter-example, are the SMSC's habit.
EVIDENCE_NEEDED = 16


class ReceiptIdFormat(StrEnum):
    AS_IS = "as-is"
    HEX_TO_DEC = "hex-to-dec"  # submit_sm_resp in hex, receipt in decimal
    DEC_TO_HEX = "dec-to-hex"  # submit_sm_resp in decimal, receipt in hex
    AUTO = "auto"


CONCRETE_FORMATS = (ReceiptIdFormat.AS_IS, ReceiptIdFormat.HEX_TO_DEC, ReceiptIdFormat.DEC_TO_HEX)


def normalise(message_id: str) -> str:
    """Case and leading zeros do not make a different id: ``00A1`` is ``a1``."""
    lowered = message_id.strip().lower()
    stripped = lowered.lstrip("0")
    return stripped if stripped or not lowered else "0"


def receipt_form(id_format: ReceiptIdFormat, submitted_id: str) -> str | None:
    """The normalised id a receipt carries for ``submitted_id``, or None if the
    submitted id cannot be written that way (``1a`` is not decimal)."""
    submitted = normalise(submitted_id)
    if id_format is ReceiptIdFormat.AS_IS:
        return submitted
    if id_format is ReceiptIdFormat.HEX_TO_DEC:
        return str(int(submitted, 16)) if _HEX.fullmatch(submitted) else None
    if id_format is ReceiptIdFormat.DEC_TO_HEX:
        return format(int(submitted), "x") if _DECIMAL.fullmatch(submitted) else None
    raise ValueError(f"{id_format.value} is not a concrete format")


def submitted_form(id_format: ReceiptIdFormat, receipt_id: str) -> str | None:
    """The normalised submitted id a receipt's id stands for, or None if it cannot."""
    received = normalise(receipt_id)
    if id_format is ReceiptIdFormat.AS_IS:
        return received
    if id_format is ReceiptIdFormat.HEX_TO_DEC:
        return format(int(received), "x") if _DECIMAL.fullmatch(received) else None
    if id_format is ReceiptIdFormat.DEC_TO_HEX:
        return str(int(received, 16)) if _HEX.fullmatch(received) else None
    raise ValueError(f"{id_format.value} is not a concrete format")


class FormatLearner:
    """Which formats an SMSC may still be using, narrowed by evidence.

    Certain evidence is syntax: a submitted id with a hex letter is not decimal (so not
    dec-to-hex), a receipt id with one is not decimal (so not hex-to-dec), an id that
    is not hex at all can only be as-is. Matching evidence counts receipts for which
    exactly one format found a live message; see :data:`EVIDENCE_NEEDED`.
    """

    def __init__(self, configured: ReceiptIdFormat = ReceiptIdFormat.AUTO) -> None:
        self.configured = configured
        if configured is ReceiptIdFormat.AUTO:
            self.possible: tuple[ReceiptIdFormat, ...] = CONCRETE_FORMATS
        else:
            self.possible = (configured,)
        self._matches = dict.fromkeys(CONCRETE_FORMATS, 0)

    @property
    def known(self) -> ReceiptIdFormat | None:
        return self.possible[0] if len(self.possible) == 1 else None

    def saw_submitted(self, submitted_id: str) -> bool:
        """Narrow by a submitted id; True when that made the format known."""
        submitted = normalise(submitted_id)
        if not _HEX.fullmatch(submitted):
            return self._keep({ReceiptIdFormat.AS_IS})
        if _HEX_LETTER.search(submitted):
            return self._drop(ReceiptIdFormat.DEC_TO_HEX)
        return False

    def saw_receipt(self, receipt_id: str) -> bool:
        received = normalise(receipt_id)
        if not _HEX.fullmatch(received):
            return self._keep({ReceiptIdFormat.AS_IS})
        if _HEX_LETTER.search(received):
            return self._drop(ReceiptIdFormat.HEX_TO_DEC)
        return False

    def saw_match(self, id_format: ReceiptIdFormat) -> bool:
        """Only ``id_format`` found a live message for a receipt."""
        if self.known is not None:
            return False
        self._matches[id_format] += 1
        others = sum(count for other, count in self._matches.items() if other is not id_format)
        if self._matches[id_format] >= EVIDENCE_NEEDED and others == 0:
            return self._keep({id_format})
        return False

    def adopt(self, id_format: ReceiptIdFormat) -> bool:
        """Take ``id_format`` as learned before (kept across a restart); True when that
        made it known. Ignored when the format is configured, or already known."""
        if id_format not in CONCRETE_FORMATS or self.configured is not ReceiptIdFormat.AUTO:
            return False
        return self._keep({id_format})

    def _drop(self, id_format: ReceiptIdFormat) -> bool:
        return self._keep(set(self.possible) - {id_format})

    def _keep(self, allowed: set[ReceiptIdFormat]) -> bool:
        if self.known is not None:
            return False
        narrowed = tuple(f for f in self.possible if f in allowed)
        if not narrowed:  # contradictory evidence: keep what we had, guess nothing
            return False
        self.possible = narrowed
        return self.known is not None
