"""The audit log's hash chain, pure: no I/O.

Each row stores ``row_hash = sha256(prev_hash || canonical(content))`` where
``canonical`` is sorted-key compact JSON of (at, actor, action, subject, details).
Changing, deleting or reordering any row breaks every later link, which
:func:`verify_chain` reports with the first row that no longer fits.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable, Iterable, Mapping

from gateway.store.records import AuditEntry, ChainCheck

GENESIS_HASH = "0" * 64
AUDIT_PAGE = 5000


def canonical_content(
    at: float, actor: str, action: str, subject: str, details: Mapping[str, object]
) -> str:
    payload = {
        "at": repr(float(at)),  # repr keeps every bit of the float, portably
        "actor": actor,
        "action": action,
        "subject": subject,
        "details": details,
    }
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def chain_hash(prev_hash: str, content: str) -> str:
    return hashlib.sha256((prev_hash + content).encode("utf-8")).hexdigest()


def entry_hash(
    prev_hash: str,
    at: float,
    actor: str,
    action: str,
    subject: str,
    details: Mapping[str, object],
) -> str:
    return chain_hash(prev_hash, canonical_content(at, actor, action, subject, details))


def verify_chain(entries: Iterable[AuditEntry], start_hash: str = GENESIS_HASH) -> ChainCheck:
    """Walk ``entries`` in id order; stop at the first row whose links do not hold.
    ``start_hash`` is the hash of the row before the first entry (for paging)."""
    expected_prev = start_hash
    checked = 0
    for entry in entries:
        if entry.prev_hash != expected_prev:
            return ChainCheck(False, checked, entry.id, "prev_hash does not match previous row")
        recomputed = entry_hash(
            entry.prev_hash, entry.at, entry.actor, entry.action, entry.subject, entry.details
        )
        if recomputed != entry.row_hash:
            return ChainCheck(False, checked, entry.id, "row content does not match its hash")
        expected_prev = entry.row_hash
        checked += 1
    return ChainCheck(True, checked)


async def verify_paged(
    fetch_page: Callable[[int, int], Awaitable[list[AuditEntry]]], page_size: int = AUDIT_PAGE
) -> ChainCheck:
    """Walk a whole log page by page (``fetch_page(after_id, limit)``, a store's
    ``audit_entries``), carrying the last hash across pages; the I/O is the caller's."""
    checked = 0
    after = 0
    prev_hash = GENESIS_HASH
    while True:
        page = await fetch_page(after, page_size)
        if not page:
            return ChainCheck(True, checked)
        result = verify_chain(page, start_hash=prev_hash)
        if not result.ok:
            return ChainCheck(False, checked + result.checked, result.broken_at, result.reason)
        checked += result.checked
        prev_hash = page[-1].row_hash
        after = page[-1].id
