-- Global template variables (`{{vars.KEY}}`); the value is any JSON document, as text.
CREATE TABLE vars (
    key TEXT PRIMARY KEY NOT NULL,
    value TEXT NOT NULL,
    updated_by TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);
