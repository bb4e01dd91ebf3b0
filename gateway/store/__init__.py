"""Durable state: subscribers, broadcasts and their outbox, inbound SMS, the audit log,
and the operator console's tables, behind the :class:`gateway.store.port.Store` port."""
