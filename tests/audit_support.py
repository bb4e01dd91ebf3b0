"""The audit key and anchor the tests open their stores with (a store without the key
refuses to write audit rows, as it must in production)."""

from __future__ import annotations

from pathlib import Path

from gateway.store.audit_anchor import AuditAnchor, AuditSeal

AUDIT_KEY = b"test audit key, thirty-two bytes or more"


def seal_at(folder: Path, key: bytes = AUDIT_KEY) -> AuditSeal:
    """The test key, with checkpoints appended to ``folder/audit-anchor.jsonl``."""
    return AuditSeal(key, AuditAnchor(folder / "audit-anchor.jsonl"))
