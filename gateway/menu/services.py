"""Several services on one gateway: which tree answers the code a request came on.

Pure. Every tree in ``menus/`` may declare ``service_codes``: USSD codes (``*384*2#``,
reached over AT and SMPP), SMS numbers (``21212``) and voice numbers (``+254711082000``).
A request is routed by the code it came on:

- a USSD code matches itself and any dial string that extends it (``*384*2*1#`` is
  ``*384*2#`` with the input ``1``); the longest match wins, so ``*384*2#`` beats
  ``*384#``;
- a number matches by its digits (``+254 711 082000`` is ``254711082000``);
- anything else goes to the one tree that declares no codes (the simple default,
  which answers any code); with no such tree, to the first tree by file name.

Refused at boot, each with a sentence: two trees without codes (which is the
default?), one code claimed by two trees, two trees with one id.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.errors import GatewayError


class ServiceMapError(GatewayError, ValueError):
    """The trees' service codes do not say which tree answers which code."""


class ServiceDown(GatewayError):
    """The code belongs to a service whose tree is down (its file did not validate)."""

    def __init__(self, tree_id: str) -> None:
        self.tree_id = tree_id
        super().__init__(f"service {tree_id!r} is down")


@dataclass(frozen=True)
class ServiceMap:
    default: str  # the tree id that answers codes no tree claims
    by_code: Mapping[str, str]  # normalised code -> tree id

    def route(self, code: str) -> str:
        """The id of the tree that answers ``code``."""
        wanted = normalise_code(code)
        if not wanted:
            return self.default
        best, best_length = self.default, 0
        for claimed, tree in self.by_code.items():
            if _matches(wanted, claimed) and len(claimed) > best_length:
                best, best_length = tree, len(claimed)
        return best

    def claims(self, code: str) -> bool:
        """Whether a service claims ``code`` as its own (else it reached the default)."""
        wanted = normalise_code(code)
        return bool(wanted) and any(_matches(wanted, claimed) for claimed in self.by_code)

    def key_of(self, tree_id: str) -> str:
        """The service's key in the store: "" for the default (so every row made before
        several services belongs to it), else the tree id."""
        return "" if tree_id == self.default else tree_id

    def tree_of(self, key: str) -> str:
        """The tree id of a store key (:meth:`key_of` reversed)."""
        return key or self.default

    def codes_of(self, tree_id: str) -> list[str]:
        """The (normalised) codes ``tree_id`` answers."""
        return [code for code, owner in self.by_code.items() if owner == tree_id]

    def with_codes(self, tree_id: str, codes: Sequence[str]) -> ServiceMap:
        """The map once the service ``tree_id`` answers ``codes`` instead of its own (a
        published version may change them): :class:`ServiceMapError` with a sentence
        naming the clash when a code is another service's, or when the default service
        would change (a service left without codes would become a second default)."""
        if tree_id not in self.tree_ids():
            raise ServiceMapError(f"there is no service {tree_id!r}")
        kept = {code: owner for code, owner in self.by_code.items() if owner != tree_id}
        for code in codes:
            key = normalise_code(code)
            if not key:
                raise ServiceMapError(f"service code {code!r} is empty")
            owner = kept.get(key)
            if owner is not None:
                raise ServiceMapError(
                    f"service code {code!r} is already service {owner!r}'s: "
                    "two services cannot answer one code"
                )
        others = [t for t in self.tree_ids() if t not in (tree_id, self.default)]
        order = [self.default, *others] if tree_id != self.default else [tree_id, *others]
        claims = [
            (t, t, list(codes) if t == tree_id else [c for c, o in kept.items() if o == t])
            for t in (order if tree_id in order else [*order, tree_id])
        ]
        new = build_service_map(claims)
        if new.default != self.default:
            changed = tree_id if tree_id != self.default else new.default
            raise ServiceMapError(
                f"service {changed!r} would declare no service_codes and become the "
                f"default instead of {self.default!r}: give it its codes"
            )
        return new

    def tree_ids(self) -> list[str]:
        """Every service's tree id, the default first: the only values the metrics'
        ``service`` label and the console's service switch take."""
        return [self.default, *sorted(set(self.by_code.values()) - {self.default})]


def sms_sender(codes: Sequence[str], sms_number: str = "") -> str:
    """The number a service's SMS go out from (broadcasts, "send by SMS"): its
    ``sms_number`` when it declares one, else its first code that is a number (a USSD
    code cannot send); "" when it has none (the channel's configured sender)."""
    if sms_number:
        return sms_number
    return next((code.strip() for code in codes if _is_number(code)), "")


def _is_number(code: str) -> bool:
    cleaned = "".join(code.split())
    return not cleaned.startswith(("*", "#")) and normalise_code(cleaned).isdigit()


def normalise_code(code: str) -> str:
    """``*384*2#`` -> ``*384*2``; ``+254 711-082000`` -> ``254711082000``; else casefolded."""
    cleaned = "".join(code.split())
    if cleaned.startswith("*") or cleaned.startswith("#"):
        return cleaned.rstrip("#")
    digits = "".join(char for char in cleaned if char.isdigit())
    if digits and all(char.isdigit() or char in "+-()." for char in cleaned):
        return digits
    return cleaned.casefold()


def _matches(wanted: str, claimed: str) -> bool:
    if wanted == claimed:
        return True
    return claimed.startswith("*") and wanted.startswith(claimed + "*")


def build_service_map(trees: Sequence[tuple[str, str, Sequence[str]]]) -> ServiceMap:
    """From (tree id, source file, codes) in file-name order."""
    if not trees:
        raise ServiceMapError("no menu tree to serve")
    ids = [tree_id for tree_id, _, _ in trees]
    repeated = sorted({tree_id for tree_id in ids if ids.count(tree_id) > 1})
    if repeated:
        raise ServiceMapError(f"two trees are named {repeated[0]!r}: give each its own 'tree:'")
    without = [(tree_id, source) for tree_id, source, codes in trees if not codes]
    if len(without) > 1:
        names = ", ".join(source for _, source in without)
        raise ServiceMapError(
            f"{len(without)} trees declare no service_codes ({names}): only one tree may be "
            "the default; give the others their codes (service_codes: ['*384*2#'])"
        )
    by_code: dict[str, str] = {}
    for tree_id, source, codes in trees:
        for code in codes:
            key = normalise_code(code)
            if not key:
                raise ServiceMapError(f"{source}: service code {code!r} is empty")
            if key in by_code and by_code[key] != tree_id:
                raise ServiceMapError(
                    f"{source}: service code {code!r} is already tree {by_code[key]!r}'s"
                )
            by_code[key] = tree_id
    default = without[0][0] if without else trees[0][0]
    return ServiceMap(default, by_code)
