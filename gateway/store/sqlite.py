"""Kept for one release while other branches move to :mod:`gateway.store.sql_store`:
the SQLite store is :class:`~gateway.store.sql_store.SQLStore` opened on a file path."""

from __future__ import annotations

from gateway.store.sql_store import SQLStore

SQLiteStore = SQLStore

__all__ = ["SQLiteStore"]
