-- A webhook's whole configuration (endpoint with its secrets, format, subscriptions) is one
-- JSON document; name and active are columns because they are constrained and filtered on.
CREATE TABLE webhooks (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    active BOOLEAN NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX webhooks_name_key ON webhooks (name);

CREATE TABLE events (
    id TEXT PRIMARY KEY NOT NULL,
    event_type TEXT NOT NULL,
    subject TEXT,
    occurred_at BIGINT NOT NULL,
    payload TEXT NOT NULL
);

-- One row per event and webhook (WITHOUT ROWID on SQLite: small rows always reached by id,
-- so one B-tree less to update on every insert and every outcome): the queue entry and the log entry at once. A pending row is
-- due at next_attempt_at; a claimed one carries its lease_owner and next_attempt_at is the end
-- of the lease, so a crashed owner's claims fall due again by themselves.
CREATE TABLE deliveries (
    id TEXT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    status TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    max_attempts INTEGER NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_owner TEXT,
    initiated_by TEXT NOT NULL,
    last_status_code INTEGER,
    last_error TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
) WITHOUT ROWID;
CREATE INDEX deliveries_due_idx ON deliveries (next_attempt_at) WHERE status = 'pending';
CREATE INDEX deliveries_webhook_idx ON deliveries (webhook_id, id);
CREATE INDEX deliveries_event_idx ON deliveries (event_id);

CREATE TABLE delivery_attempts (
    delivery_id TEXT NOT NULL REFERENCES deliveries (id) ON DELETE CASCADE,
    attempt INTEGER NOT NULL,
    initiated_by TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    duration_ms BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    request TEXT NOT NULL,
    response TEXT,
    error TEXT,
    PRIMARY KEY (delivery_id, attempt)
);
