"""The audit key and the anchor: what the store needs to write keyed audit rows and to
leave a checkpoint outside the database after each write.

:class:`AuditSeal` carries the key (``GATEWAY_AUDIT_KEY``, generated into
``keys.json`` by default; never in the database) and an :class:`AuditAnchor`, the
append-only file ``GATEWAY_AUDIT_ANCHOR`` (default ``<data dir>/audit-anchor.jsonl``,
mode 0600). After every audit write the store hands it the new checkpoint: it is
appended to the file as one JSON line (one ``write`` on an ``O_APPEND`` descriptor, so
lines of several processes never interleave) and logged as ``audit.checkpoint`` with
the same fields, so logs shipped off the machine hold a second copy. Every write
rather than once a minute: audit rows are rare (operators' actions, refused sign-ins
under the throttle), and a once-a-minute checkpoint would leave the last minute's rows
removable unnoticed.

The file is not fsynced: a checkpoint lost in a crash leaves the anchor behind the
log, which verifies (rows after the newest checkpoint are still checked by the key);
one that got ahead of the database cannot happen, as it is written after the commit.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import structlog

from gateway.settings import Settings, SettingsError
from gateway.store.audit_chain import AnchorReading, checkpoint_fields, checkpoint_line, read_anchor
from gateway.store.private_files import FILE_MODE, private_folder
from gateway.store.records import AuditCheckpoint

log = structlog.get_logger(__name__)
MIN_KEY_LENGTH = 32


class AuditAnchor:
    """The anchor file: checkpoints appended, read back for ``gateway audit verify``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def prepare(self) -> None:
        """Its folder exists (created 0700 if missing; an existing one is left as it
        is, it may be shared); a file found readable by others is tightened to 0600,
        with a log line."""
        if not self.path.parent.exists():
            private_folder(self.path.parent)
        try:
            found = stat.S_IMODE(self.path.stat().st_mode)
        except FileNotFoundError:
            return
        if found & ~FILE_MODE:
            self.path.chmod(FILE_MODE)
            log.warning(
                "store.permissions_tightened",
                path=str(self.path),
                found=oct(found),
                now=oct(FILE_MODE),
            )

    def append(self, checkpoint: AuditCheckpoint) -> None:
        data = (checkpoint_line(checkpoint) + "\n").encode()
        descriptor = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
        try:
            os.write(descriptor, data)
        finally:
            os.close(descriptor)

    def exists(self) -> bool:
        return self.path.exists()

    def lines(self) -> Iterator[str]:
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            yield from handle

    def read(self, key: bytes) -> AnchorReading:
        """The newest sealed checkpoint in the file (OSError if it cannot be read)."""
        return read_anchor(key, self.lines())


@dataclass(frozen=True)
class AuditSeal:
    """The audit key and where checkpoints go (``anchor`` None: the log line only)."""

    key: bytes = field(repr=False)
    anchor: AuditAnchor | None = None

    def __post_init__(self) -> None:
        if len(self.key) < MIN_KEY_LENGTH:
            raise SettingsError(
                f"the audit key (GATEWAY_AUDIT_KEY) must be at least {MIN_KEY_LENGTH} "
                "characters long"
            )

    def checkpoint(self, checkpoint: AuditCheckpoint) -> None:
        """After a commit: the log line, then the anchor file. A file that cannot be
        written is logged, not raised: the row is in the database already, and the log
        line carries the checkpoint."""
        log.info("audit.checkpoint", **checkpoint_fields(checkpoint))
        if self.anchor is None:
            return
        try:
            self.anchor.append(checkpoint)
        except OSError as exc:
            log.error(
                "audit.anchor_failed",
                path=str(self.anchor.path),
                error=exc.__class__.__name__,
                detail=exc.strerror or "",
            )


def audit_seal(settings: Settings) -> AuditSeal:
    """The seal every process that writes audit rows opens its store with."""
    return AuditSeal(settings.audit_key.reveal_bytes(), AuditAnchor(settings.audit_anchor_path))
