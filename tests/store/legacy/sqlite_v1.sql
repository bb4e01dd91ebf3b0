-- Schema version 1 as SQLite created it before the store was unified (commit 636fe90,
-- gateway/store/migrations.py). Kept verbatim: tests/store/test_legacy_upgrade.py builds a
-- database with it and opens that with today's store.
CREATE TABLE subscribers (
    id INTEGER PRIMARY KEY,
    msisdn_hash TEXT NOT NULL UNIQUE,
    msisdn_sealed BLOB,
    language TEXT NOT NULL,
    channel TEXT NOT NULL DEFAULT '',
    consent_at REAL,
    opted_out_at REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE INDEX subscribers_opted_out ON subscribers (opted_out_at);

CREATE TABLE subscriptions (
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    topic TEXT NOT NULL,
    region TEXT NOT NULL DEFAULT '',
    language TEXT NOT NULL,
    created_at REAL NOT NULL,
    PRIMARY KEY (subscriber_id, topic, region)
);
CREATE INDEX subscriptions_topic ON subscriptions (topic, region);

CREATE TABLE broadcasts (
    id INTEGER PRIMARY KEY,
    texts TEXT NOT NULL,
    fallback_language TEXT NOT NULL,
    topics TEXT NOT NULL,
    regions TEXT NOT NULL,
    languages TEXT NOT NULL,
    source TEXT NOT NULL,
    author TEXT NOT NULL,
    approver TEXT,
    expires_at REAL NOT NULL,
    state TEXT NOT NULL,
    created_at REAL NOT NULL,
    approved_at REAL,
    started_at REAL,
    finished_at REAL,
    expansion_cursor INTEGER NOT NULL DEFAULT 0,
    expansion_done INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX broadcasts_state ON broadcasts (state);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    broadcast_id INTEGER NOT NULL REFERENCES broadcasts (id),
    subscriber_id INTEGER NOT NULL REFERENCES subscribers (id) ON DELETE CASCADE,
    language TEXT NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    parts INTEGER NOT NULL DEFAULT 0,
    parts_delivered INTEGER NOT NULL DEFAULT 0,
    claimed_by TEXT,
    lease_until REAL,
    error TEXT NOT NULL DEFAULT '',
    created_at REAL NOT NULL,
    submitted_at REAL,
    final_at REAL,
    UNIQUE (broadcast_id, subscriber_id)
);
CREATE INDEX outbox_work ON outbox (broadcast_id, state, id);
CREATE INDEX outbox_subscriber ON outbox (subscriber_id, state);
CREATE INDEX outbox_final ON outbox (final_at);

CREATE TABLE outbox_messages (
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    outbox_id INTEGER NOT NULL REFERENCES outbox (id) ON DELETE CASCADE,
    part INTEGER NOT NULL,
    state TEXT NOT NULL,
    PRIMARY KEY (channel, message_id)
);
CREATE INDEX outbox_messages_row ON outbox_messages (outbox_id);

CREATE TABLE delivery_events (
    id INTEGER PRIMARY KEY,
    outbox_id INTEGER REFERENCES outbox (id) ON DELETE CASCADE,
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    state TEXT NOT NULL,
    error TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX delivery_events_message ON delivery_events (channel, message_id);
CREATE INDEX delivery_events_at ON delivery_events (at);
CREATE INDEX delivery_events_row ON delivery_events (outbox_id);

CREATE TABLE inbound_messages (
    id INTEGER PRIMARY KEY,
    channel TEXT NOT NULL,
    message_id TEXT NOT NULL,
    sender_hash TEXT NOT NULL,
    recipient TEXT NOT NULL,
    command TEXT NOT NULL,
    received_at REAL NOT NULL,
    UNIQUE (channel, message_id)
);
CREATE INDEX inbound_messages_at ON inbound_messages (received_at);

CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    row_hash TEXT NOT NULL UNIQUE
);

CREATE TABLE operators (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('admin', 'editor', 'approver')),
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);

CREATE TABLE menu_versions (
    id INTEGER PRIMARY KEY,
    menu_name TEXT NOT NULL,
    tree_yaml TEXT NOT NULL,
    author TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('draft', 'published', 'superseded')),
    approver TEXT,
    created_at REAL NOT NULL,
    published_at REAL,
    superseded_at REAL
);
CREATE INDEX menu_versions_name ON menu_versions (menu_name, state);

CREATE TABLE session_ends (
    day TEXT NOT NULL,
    screen_id TEXT NOT NULL,
    status TEXT NOT NULL,
    count INTEGER NOT NULL,
    PRIMARY KEY (day, screen_id, status)
);

CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
