"""What an alert costs: alphabet, length and SMS parts, as the console shows it.

Counted by :mod:`gateway.sms.segmentation`, the same code that cuts the SMS the SMPP
channel sends: one SMS holds 160 GSM-7 septets or 70 UCS-2 code units; a longer text
goes in parts of 153 or 67, cut only between whole characters, preferably after a
line break or a space. The page's script counts the same way (a browser test checks).
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.sms.encoding import Alphabet, measure
from gateway.sms.segmentation import PART_LIMIT, SINGLE_LIMIT, split_text


@dataclass(frozen=True)
class SMSCost:
    alphabet: Alphabet
    length: int
    parts: int

    def describe(self) -> str:
        name = "GSM-7" if self.alphabet is Alphabet.GSM7 else "UCS-2"
        plural = "" if self.parts == 1 else "s"
        return f"{self.length} {name} characters, {self.parts} SMS part{plural}"


def sms_cost(text: str) -> SMSCost:
    alphabet, length = measure(text)
    if length == 0:
        return SMSCost(alphabet, 0, 0)
    if length <= SINGLE_LIMIT[alphabet]:
        return SMSCost(alphabet, length, 1)
    return SMSCost(alphabet, length, len(split_text(text, PART_LIMIT[alphabet], alphabet)))
