"""An access log that never prints a query string.

aiohttp's default access log prints the request line, query string included, and
the callback secret may travel there. This logger writes the path only, through
structlog. Successful USSD callbacks are left out: the USSD service already writes
one canonical line for each of them.
"""

from __future__ import annotations

import structlog
from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

log = structlog.get_logger("gateway.http")
QUIET_PREFIXES = ("/africastalking/ussd",)


class PathOnlyAccessLogger(AbstractAccessLogger):
    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        path = request.rel_url.path
        if response.status == 200 and path.startswith(QUIET_PREFIXES):
            return
        log.info(
            "http.request",
            method=request.method,
            path=path,
            status=response.status,
            latency_ms=round(time * 1000, 2),
        )

    @property
    def enabled(self) -> bool:
        return True
