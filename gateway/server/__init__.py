"""The composition of a running process: the runtime, the aiohttp app, the live tree,
graceful shutdown.
"""
