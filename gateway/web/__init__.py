"""The HTTP edge: the aiohttp application, its callbacks and its access log."""
