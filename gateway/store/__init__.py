"""Durable state: subscribers, broadcasts and their outbox, inbound SMS, the audit log,
and the operator console's tables, behind the :class:`gateway.store.port.Store` port.

One store for both engines: :func:`gateway.store.sql_store.open_store` opens SQLite
(aiosqlite, the embedded default) for a file path and PostgreSQL (asyncpg) for a
``postgresql://`` URL. The queries are written once (``?`` placeholders) and one
migration history renders its DDL per engine; what really differs (numbered
placeholders, array parameters, ``SKIP LOCKED`` claims, row and advisory locks, column
types, the audit log's triggers) sits in one :class:`~gateway.store.dialect.Dialect`
object per engine, and each driver sits behind one small adapter
(:mod:`~gateway.store.database`: execute, fetch, fetchrow, fetchval, transaction).

Why a dialect object rather than SQLAlchemy Core with Alembic: the store is about 80
hand-tuned statements (set-wise receipts through a scratch table, ``SKIP LOCKED``
claims, advisory locks) that Core would only wrap as ``text()``; the differences fit in
one 140-line module; and the outbox's hot path keeps the driver's own speed (asyncpg's
prepared statements and ``executemany``) with no second layer, (figures in the README,
bench/store_outbox.py). Alembic would replace a 40-line migration runner with a second
configuration, an ``env.py`` and a version table that existing databases do not have.
"""
