"""The typed keys under which the gateway's app holds its parts.

One module of its own so that the console (mounted on the app) and the app factory
both import the keys without importing each other.
"""

from __future__ import annotations

from aiohttp import web

from gateway.observability.metrics import Metrics
from gateway.server.live_tree import LiveTree
from gateway.server.runtime import Runtime
from gateway.settings import Settings
from gateway.ussd.dropoff import SessionEndRecorder
from gateway.ussd.service import USSDService

SETTINGS = web.AppKey("settings", Settings)
RUNTIME = web.AppKey("runtime", Runtime)
LIVE_TREE = web.AppKey("live_tree", LiveTree)
USSD = web.AppKey("ussd_service", USSDService)
DROPOFF = web.AppKey("dropoff", SessionEndRecorder)
METRICS = web.AppKey("metrics", Metrics)
