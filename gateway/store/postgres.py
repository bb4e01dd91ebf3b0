"""Kept for one release while other branches move to :mod:`gateway.store.sql_store`:
the PostgreSQL store is :class:`~gateway.store.sql_store.SQLStore` opened on a
``postgresql://`` URL."""

from __future__ import annotations

from gateway.store.sql_store import SQLStore, is_postgres_url, open_store

PostgresStore = SQLStore

__all__ = ["PostgresStore", "is_postgres_url", "open_store"]
