"""The database and its folder are private to the gateway's user.

The SQLite file holds sealed numbers, keyed hashes, operators' password hashes and
the audit log; its ``-wal`` and ``-shm`` companions hold recent pages of it. They are
created 0600 (SQLite gives the companions the main file's mode) in a folder created
0700, and at every start a looser mode found on any of them is tightened, with a log
line saying what was found.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)
FILE_MODE = 0o600
FOLDER_MODE = 0o700
COMPANIONS = ("", "-wal", "-shm", "-journal")


def _tighten(path: Path, mode: int) -> None:
    try:
        found = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return
    if found & ~mode:
        path.chmod(mode)
        log.warning("store.permissions_tightened", path=str(path), found=oct(found), now=oct(mode))


def private_folder(folder: Path) -> None:
    """Create ``folder`` 0700, or tighten it to 0700."""
    if not folder.exists():
        folder.mkdir(parents=True, mode=FOLDER_MODE, exist_ok=True)
        folder.chmod(FOLDER_MODE)  # mkdir's mode is cut by the umask, never widened
        return
    _tighten(folder, FOLDER_MODE)


def private_database(path: Path) -> None:
    """Create the database file 0600 if it is missing; tighten it and its companions."""
    if not path.exists():
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
        os.close(descriptor)
    for suffix in COMPANIONS:
        _tighten(path.with_name(path.name + suffix), FILE_MODE)
