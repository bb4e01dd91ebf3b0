"""Callback authentication: a shared secret in ``?key=`` or ``X-Callback-Key``.

Africa's Talking signs nothing, so the secret is all there is. It is compared in
constant time and never logged (see :mod:`gateway.observability.access_log`).
"""

from __future__ import annotations

import hmac

from aiohttp import web

from gateway.settings import Secret

HEADER = "X-Callback-Key"
QUERY = "key"


def is_authentic(request: web.Request, secret: Secret) -> bool:
    try:
        offered = request.headers.get(HEADER) or request.query.get(QUERY) or ""
    except (UnicodeError, ValueError):  # a query string that is not UTF-8
        return False
    expected = secret.reveal_bytes()
    # Header bytes that are not UTF-8 arrive as surrogate escapes: compare them as the
    # bytes they were (they match nothing), never fail on them.
    offered_bytes = offered.encode("utf-8", "surrogateescape")
    return bool(expected) and hmac.compare_digest(offered_bytes, expected)


def forbidden() -> web.Response:
    return web.Response(status=403, text="Forbidden", content_type="text/plain")
