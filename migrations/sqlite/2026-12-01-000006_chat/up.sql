-- Chat triggers (SPEC §3.1). The whole configuration (tokens, services with their secrets,
-- reply options) is one JSON document; name, kind and enabled are columns because they are
-- constrained or read without parsing.
CREATE TABLE triggers (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    config TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX triggers_name_key ON triggers (name);

-- Bumped in the transaction of every trigger change: each instance rebuilds its routing table
-- when it sees a new value, so a change made through any instance is routed everywhere.
INSERT INTO counters (name, value) VALUES ('trigger_generation', 0);

-- The `response_url`s handed to services (`/hooks/reply/{id}`): only the SHA-256 of the id is
-- kept, like API tokens. `conversation` is the JSON of where a reply is posted.
CREATE TABLE reply_links (
    id_hash TEXT PRIMARY KEY NOT NULL,
    trigger_id TEXT NOT NULL,
    conversation TEXT NOT NULL,
    uses INTEGER NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX reply_links_expires_idx ON reply_links (expires_at);

-- Runtime settings (`GET/PUT /api/v1/settings`); a stored value wins over the configuration.
CREATE TABLE settings (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
