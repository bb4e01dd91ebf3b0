"""The operator console: a server-rendered aiohttp sub-app mounted at ``/console/``."""

from gateway.console.console_app import create_console_app
from gateway.console.mount import mount_console, mount_on_gateway

__all__ = ["create_console_app", "mount_console", "mount_on_gateway"]
