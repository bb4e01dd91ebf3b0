"""What an alert costs: alphabet, length and SMS parts, as the console shows it.

Counted with :mod:`gateway.encoding` (the same rules the sender splits by): one SMS
holds 160 GSM-7 septets or 70 UCS-2 code units; a longer text goes in parts of 153
or 67, cut only between whole characters. The page's script counts the same way.
"""

from __future__ import annotations

from dataclasses import dataclass

from gateway.encoding import Alphabet, measure, split_to_fit

SINGLE = {Alphabet.GSM7: 160, Alphabet.UCS2: 70}
PART = {Alphabet.GSM7: 153, Alphabet.UCS2: 67}


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
    if length <= SINGLE[alphabet]:
        return SMSCost(alphabet, length, 1)
    parts, rest = 0, text
    while rest:
        head, rest = split_to_fit(rest, PART[alphabet], alphabet)
        if not head:
            break
        parts += 1
    return SMSCost(alphabet, length, parts)
