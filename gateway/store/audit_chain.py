"""The audit log's hash chain and its checkpoints, pure: no I/O, no clock.

Each row stores the hash of the row before it (``prev_hash``) and its own
(``row_hash``), computed over ``prev_hash`` and the canonical content (sorted-key
compact JSON of at, actor, action, subject, details, and the row's service when it has
one). Two schemes:

- **keyed** (every row written since the audit key exists): ``row_hash = "k1:" +
  HMAC-SHA256(audit key, prev_hash || content)``. The key is not in the database, so
  someone who can write the database but has not the key can neither edit a row nor
  re-hash the chain after an edit.
- **legacy** (rows written before): ``row_hash = sha256(prev_hash || content)``. Anyone
  can recompute these; they are still verified the old way, and are sealed by the
  **switch-over row**: the first keyed row of a database that had legacy rows, action
  ``audit_chain_keyed``, whose details name the number of legacy rows and their head
  hash. Its keyed hash covers that head, so a legacy row edited (and its chain
  re-hashed) after the switch-over breaks the link to the switch-over row. Old rows are
  never re-hashed: a re-seal would launder any edit made before it.

After a keyed row, an unkeyed one is refused (re-hashed without the key). What the
chain alone cannot see (rows deleted from the end; every keyed row turned back into a
legacy one and re-hashed) is caught by a **checkpoint**: the row count, the last row's
id and hash, and the time, sealed with the key under its own label, written outside
the database after every write (:mod:`gateway.store.audit_anchor`). :class:`ChainWalker`
compares the log with the newest checkpoint.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import NamedTuple

from gateway.store.records import AuditCheckpoint, AuditEntry, ChainCheck

GENESIS_HASH = "0" * 64
AUDIT_PAGE = 5000
KEYED_PREFIX = "k1:"
SWITCH_OVER_ACTION = "audit_chain_keyed"
SWITCH_OVER_ACTOR = "gateway"
CHECKPOINT_LABEL = b"gateway audit checkpoint\n"  # never the start of a row's input


class CheckpointError(ValueError):
    """A line of the anchor file that is not a checkpoint sealed by the audit key."""


class RowContent(NamedTuple):
    """What a row's hash covers: every stored field but its id and the two hashes.
    ``service`` (the store key of the service the row is about, "" for the default;
    None for a row about no service) is sealed only when the row has one: rows written
    before services were recorded (None) keep the content they were hashed over, and a
    service added to, changed on or removed from a row changes its content, so the
    hash no longer matches."""

    at: float
    actor: str
    action: str
    subject: str
    details: Mapping[str, object]
    service: str | None = None

    @classmethod
    def of(cls, entry: AuditEntry) -> RowContent:
        return cls(entry.at, entry.actor, entry.action, entry.subject, entry.details, entry.service)

    def canonical(self) -> str:
        """Sorted-key compact JSON, the text the hash is computed over."""
        payload: dict[str, object] = {
            "at": repr(float(self.at)),  # repr keeps every bit of the float, portably
            "actor": self.actor,
            "action": self.action,
            "subject": self.subject,
            "details": self.details,
        }
        if self.service is not None:
            payload["service"] = self.service
        return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    """The legacy link: plain sha256, anyone can recompute it."""
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def keyed_chain_hash(key: bytes, prev_hash: str, content: str) -> str:
    mac = hmac.new(key, (prev_hash + content).encode("utf-8"), hashlib.sha256).hexdigest()
    return KEYED_PREFIX + mac


def entry_hash(prev_hash: str, row: RowContent) -> str:
    """The legacy (unkeyed) hash of a row: what databases of before the key hold."""
    return chain_hash(prev_hash, row.canonical())


def keyed_entry_hash(key: bytes, prev_hash: str, row: RowContent) -> str:
    return keyed_chain_hash(key, prev_hash, row.canonical())


def is_keyed(row_hash: str) -> bool:
    return row_hash.startswith(KEYED_PREFIX)


def switch_over_details(legacy_rows: int, legacy_head: str) -> dict[str, object]:
    return {"legacy_rows": legacy_rows, "legacy_head": legacy_head}


# -- checkpoints ---------------------------------------------------------------------


def _checkpoint_mac(key: bytes, rows: int, last_id: int, head: str, at: float) -> str:
    body = json.dumps(
        {"rows": rows, "last_id": last_id, "head": head, "at": repr(float(at))},
        sort_keys=True,
        separators=(",", ":"),
    )
    return hmac.new(key, CHECKPOINT_LABEL + body.encode(), hashlib.sha256).hexdigest()


def seal_checkpoint(key: bytes, rows: int, last_id: int, head: str, at: float) -> AuditCheckpoint:
    """The checkpoint after a write: ``rows`` rows, the last one ``last_id`` with
    ``head`` as its hash, sealed with the key."""
    return AuditCheckpoint(rows, last_id, head, at, _checkpoint_mac(key, rows, last_id, head, at))


def checkpoint_is_sealed(key: bytes, checkpoint: AuditCheckpoint) -> bool:
    expected = _checkpoint_mac(
        key, checkpoint.rows, checkpoint.last_id, checkpoint.head, checkpoint.at
    )
    return hmac.compare_digest(expected, checkpoint.mac)


def checkpoint_fields(checkpoint: AuditCheckpoint) -> dict[str, object]:
    """The fields of a checkpoint as written to the anchor file and to the log line."""
    return {
        "rows": checkpoint.rows,
        "last_id": checkpoint.last_id,
        "head": checkpoint.head,
        "at": checkpoint.at,
        "mac": checkpoint.mac,
    }


def checkpoint_line(checkpoint: AuditCheckpoint) -> str:
    return json.dumps(checkpoint_fields(checkpoint), sort_keys=True, separators=(",", ":"))


def parse_checkpoint(line: str) -> AuditCheckpoint:
    """One line of the anchor file (or the fields of an ``audit.checkpoint`` log line
    as JSON); :class:`CheckpointError` if it is not one."""
    try:
        fields = json.loads(line)
    except ValueError:
        raise CheckpointError("not JSON") from None
    if not isinstance(fields, dict):
        raise CheckpointError("not a JSON object")
    rows, last_id, head = fields.get("rows"), fields.get("last_id"), fields.get("head")
    at, mac = fields.get("at"), fields.get("mac")
    if not (
        isinstance(rows, int)
        and isinstance(last_id, int)
        and isinstance(head, str)
        and isinstance(at, int | float)
        and isinstance(mac, str)
        and rows >= 0
        and last_id >= 0
    ):
        raise CheckpointError("fields rows, last_id, head, at, mac missing or mistyped")
    return AuditCheckpoint(rows, last_id, head, float(at), mac)


@dataclass(frozen=True)
class AnchorReading:
    """What the anchor file says: the checkpoint with the most rows, how many lines
    were read, and the first line that is not a sealed checkpoint (``problem``)."""

    newest: AuditCheckpoint | None
    lines: int
    problem: str = ""


def read_anchor(key: bytes, lines: Iterable[str]) -> AnchorReading:
    """The newest sealed checkpoint among ``lines`` (several processes append, so the
    newest is the one with the most rows, not always the last line); stops at the first
    line that does not parse or whose seal does not hold."""
    newest: AuditCheckpoint | None = None
    count = 0
    for number, line in enumerate(lines, start=1):
        count = number
        if not line.strip():
            continue
        try:
            checkpoint = parse_checkpoint(line)
        except CheckpointError as exc:
            return AnchorReading(newest, number, f"line {number} of the anchor is damaged ({exc})")
        if not checkpoint_is_sealed(key, checkpoint):
            return AnchorReading(
                newest,
                number,
                f"line {number} of the anchor is not sealed by the audit key "
                "(forged, or written with another key)",
            )
        if newest is None or checkpoint.rows > newest.rows:
            newest = checkpoint
    return AnchorReading(newest, count)


def when(at: float) -> str:
    return dt.datetime.fromtimestamp(at, dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def count_rows(count: int) -> str:
    return f"{count} row" if count == 1 else f"{count} rows"


def describe(checkpoint: AuditCheckpoint) -> str:
    return (
        f"the checkpoint of {when(checkpoint.at)} ({count_rows(checkpoint.rows)}, "
        f"last row {checkpoint.last_id})"
    )


# -- verification --------------------------------------------------------------------


class ChainWalker:
    """Walks the log in id order, page by page (:meth:`feed`), and says at the end
    (:meth:`result`) whether every link holds, every keyed row carries the key's hash,
    and the log still holds what ``checkpoint`` recorded. ``key`` None: keyed rows
    cannot be checked and are reported as such."""

    def __init__(
        self,
        key: bytes | None,
        checkpoint: AuditCheckpoint | None = None,
        start_hash: str = GENESIS_HASH,
    ) -> None:
        self.key = key
        self.checkpoint = checkpoint
        self.prev_hash = start_hash
        self.rows = 0
        self.legacy_rows = 0
        self.keyed_from: int | None = None
        self.last_id = 0
        self.checkpoint_seen = checkpoint is None or checkpoint.rows == 0
        self.failure: ChainCheck | None = None

    def _fail(self, row_id: int | None, reason: str) -> bool:
        self.failure = ChainCheck(
            False, self.rows, row_id, reason, self.legacy_rows, self.keyed_from, self.checkpoint
        )
        return False

    def feed(self, entries: Iterable[AuditEntry]) -> bool:
        """Check ``entries`` (the next rows in id order); False once a row fails."""
        if self.failure is not None:
            return False
        return all(self._check(entry) for entry in entries)

    def _check(self, entry: AuditEntry) -> bool:
        row = entry.id
        if entry.prev_hash != self.prev_hash:
            return self._fail(
                row,
                f"row {row} does not link to the row before it: a row was deleted or "
                "reordered before it, or its link was edited",
            )
        content = RowContent.of(entry).canonical()
        if is_keyed(entry.row_hash):
            if self.key is None:
                return self._fail(row, f"row {row} is keyed and no audit key was given")
            if not hmac.compare_digest(
                keyed_chain_hash(self.key, entry.prev_hash, content), entry.row_hash
            ):
                return self._fail(
                    row,
                    f"row {row} does not match its keyed hash: it was edited, or re-hashed "
                    "without the audit key",
                )
            if self.keyed_from is None:
                if self.rows > 0 and not (
                    entry.action == SWITCH_OVER_ACTION
                    and dict(entry.details) == switch_over_details(self.rows, entry.prev_hash)
                ):
                    return self._fail(
                        row,
                        f"row {row} starts the keyed rows without the switch-over row that "
                        f"seals the {self.rows} unkeyed rows before it",
                    )
                self.keyed_from = row
        else:
            if self.keyed_from is not None:
                return self._fail(
                    row,
                    f"row {row} is unkeyed after the keyed rows that begin at row "
                    f"{self.keyed_from}: it was re-hashed without the audit key",
                )
            if chain_hash(entry.prev_hash, content) != entry.row_hash:
                return self._fail(row, f"row {row} does not match its hash: it was edited")
            self.legacy_rows += 1
        self.rows += 1
        self.prev_hash = entry.row_hash
        self.last_id = row
        return self._against_checkpoint(entry)

    def _against_checkpoint(self, entry: AuditEntry) -> bool:
        checkpoint = self.checkpoint
        if checkpoint is None or self.checkpoint_seen:
            return True
        if entry.id == checkpoint.last_id:
            self.checkpoint_seen = True
            if not hmac.compare_digest(entry.row_hash, checkpoint.head):
                return self._fail(
                    entry.id,
                    f"row {entry.id} is not the row {describe(checkpoint)} sealed: the log "
                    "was rewritten up to there",
                )
            if self.rows != checkpoint.rows:
                return self._fail(
                    entry.id,
                    f"{describe(checkpoint)} counted {count_rows(checkpoint.rows)} up to row "
                    f"{entry.id}, the log has {self.rows}: rows were deleted or added before it",
                )
        elif entry.id > checkpoint.last_id:
            return self._fail(
                checkpoint.last_id,
                f"row {checkpoint.last_id} of {describe(checkpoint)} is missing: rows were deleted",
            )
        return True

    def result(self) -> ChainCheck:
        if self.failure is not None:
            return self.failure
        checkpoint = self.checkpoint
        if checkpoint is not None and not self.checkpoint_seen:
            return self._fail_at_end(checkpoint)
        return ChainCheck(
            True, self.rows, None, "", self.legacy_rows, self.keyed_from, self.checkpoint
        )

    def _fail_at_end(self, checkpoint: AuditCheckpoint) -> ChainCheck:
        self._fail(
            None,
            f"the log ends at row {self.last_id} ({count_rows(self.rows)}) but "
            f"{describe(checkpoint)} "
            "recorded more: rows were deleted from the end",
        )
        assert self.failure is not None
        return self.failure


def verify_chain(
    entries: Iterable[AuditEntry],
    key: bytes | None = None,
    checkpoint: AuditCheckpoint | None = None,
    start_hash: str = GENESIS_HASH,
) -> ChainCheck:
    """Walk ``entries`` (the whole log, in id order) at once."""
    walker = ChainWalker(key, checkpoint, start_hash)
    walker.feed(entries)
    return walker.result()


async def verify_paged(
    fetch_page: Callable[[int, int], Awaitable[list[AuditEntry]]],
    key: bytes | None = None,
    checkpoint: AuditCheckpoint | None = None,
    page_size: int = AUDIT_PAGE,
) -> ChainCheck:
    """Walk a whole log page by page (``fetch_page(after_id, limit)``, a store's
    ``audit_entries``), carrying the walk across pages; the I/O is the caller's."""
    walker = ChainWalker(key, checkpoint)
    after = 0
    while True:
        page = await fetch_page(after, page_size)
        if not page or not walker.feed(page):
            return walker.result()
        after = page[-1].id
