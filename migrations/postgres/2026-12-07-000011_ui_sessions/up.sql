-- Web console sessions (SPEC §9). The cookie carries a random session id; only its SHA-256 is
-- stored, like API tokens. `credential_hash` is the hash of the token that signed in (the same
-- value api_tokens keeps), so every request re-checks that the token still exists and revoking
-- it ends its sessions. Sessions expire after a time idle and after a longest lifetime.
CREATE TABLE ui_sessions (
    id_hash TEXT PRIMARY KEY NOT NULL,
    credential_hash TEXT NOT NULL,
    csrf_token TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT NOT NULL
);
CREATE INDEX ui_sessions_credential_idx ON ui_sessions (credential_hash);
CREATE INDEX ui_sessions_last_used_idx ON ui_sessions (last_used_at);

-- The console's overview counts open incidents by severity: this partial index holds only
-- unresolved incidents, so the count stays cheap with millions of resolved ones, and changes
-- to resolved incidents do not touch it.
CREATE INDEX incidents_open_severity_idx ON incidents (severity) WHERE status <> 'resolved';
