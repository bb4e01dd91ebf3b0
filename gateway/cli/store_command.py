"""A command's run against the store: opened from the settings, closed after, and the
command's refusals said as one line on stderr with exit status 1, never a traceback.

Every store command (alerts, publish, identity migration, key rotation) opens the store
the same way, with the audit key and anchor of :func:`gateway.store.audit_anchor.audit_seal`,
so that every row it writes joins the keyed chain.
"""

from __future__ import annotations

import sys
from collections.abc import Awaitable, Callable

from gateway.settings import Settings
from gateway.store.audit_anchor import audit_seal
from gateway.store.port import StoreError
from gateway.store.sql_store import SQLStore, open_store

Work = Callable[[SQLStore], Awaitable[int]]


async def run_with_store(
    settings: Settings,
    work: Work,
    refusals: tuple[type[Exception], ...] = (),
    say: str = "{}",
) -> int:
    """Run ``work`` on the store of ``settings`` and return its exit status.

    A store that cannot be opened, or one of ``refusals`` raised by ``work``, is printed
    as ``gateway: `` and ``say`` filled with the error, and the status is 1.
    """
    try:
        store = await open_store(settings.db_url, audit=audit_seal(settings))
    except StoreError as exc:
        print(f"gateway: {exc}", file=sys.stderr)
        return 1
    try:
        return await work(store)
    except refusals as exc:
        print(f"gateway: {say.format(exc)}", file=sys.stderr)
        return 1
    finally:
        await store.close()
