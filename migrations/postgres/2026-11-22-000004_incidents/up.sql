-- Incidents (SPEC §4.2). Attributes and forwarded_to are JSON arrays as text. An incident that
-- is not resolved owns its dedup_key: the partial unique index makes the database refuse a
-- second one, so concurrent triggers with one key never open two incidents.
CREATE TABLE incidents (
    id TEXT PRIMARY KEY NOT NULL,
    number BIGINT NOT NULL,
    title TEXT NOT NULL,
    description TEXT NOT NULL,
    severity TEXT NOT NULL,
    status TEXT NOT NULL,
    dedup_key TEXT,
    source TEXT NOT NULL,
    attributes TEXT NOT NULL,
    forwarded_to TEXT NOT NULL,
    occurrences BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    acknowledged_at BIGINT,
    resolved_at BIGINT
);
CREATE UNIQUE INDEX incidents_number_key ON incidents (number);
CREATE UNIQUE INDEX incidents_open_dedup_key ON incidents (dedup_key) WHERE status <> 'resolved';

CREATE TABLE incident_timeline (
    id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    intent TEXT NOT NULL,
    message TEXT NOT NULL,
    actor TEXT NOT NULL,
    changes TEXT NOT NULL
);
CREATE INDEX incident_timeline_incident_idx ON incident_timeline (incident_id, id);

-- Numbers handed out in order: the row lock serialises concurrent transactions on PostgreSQL.
CREATE TABLE counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO counters (name, value) VALUES ('incident_number', 0);
