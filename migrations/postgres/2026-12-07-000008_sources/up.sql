-- Sources (SPEC §4.5): named intake endpoints for senders that post their own documents. The
-- definition (kind, auth with its secrets, mapping) is one JSON document; a URL token is kept
-- only as its SHA-256 (hex) and last characters, like API tokens.
CREATE TABLE sources (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    config TEXT NOT NULL,
    token_hash TEXT,
    token_hint TEXT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX sources_name_key ON sources (name);

-- The latest requests of each source (a hundred are kept): what came (credentials masked, the
-- body up to 64 KiB) and what it became, or why not.
CREATE TABLE source_requests (
    id TEXT PRIMARY KEY NOT NULL,
    source_id TEXT NOT NULL REFERENCES sources (id) ON DELETE CASCADE,
    received_at BIGINT NOT NULL,
    method TEXT NOT NULL,
    headers TEXT NOT NULL,
    body TEXT NOT NULL,
    body_truncated BOOLEAN NOT NULL,
    outcome TEXT NOT NULL
);
CREATE INDEX source_requests_latest_idx ON source_requests (source_id, id);
