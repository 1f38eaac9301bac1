-- The chat exchange log: the latest requests each trigger received (a hundred are kept, and a
-- hundred that matched no trigger, with a NULL trigger_id), what they came to and why, and what
-- each service was sent and answered (credentials masked, bodies up to 64 KiB), as one JSON
-- document. No foreign key: the log is written in batches after the chat was answered, and a
-- trigger deleted meanwhile must not fail the batch; deleting a trigger deletes its log.
CREATE TABLE chat_exchanges (
    id TEXT PRIMARY KEY NOT NULL,
    trigger_id TEXT,
    received_at BIGINT NOT NULL,
    outcome TEXT NOT NULL,
    record TEXT NOT NULL
);
CREATE INDEX chat_exchanges_latest_idx ON chat_exchanges (trigger_id, id);
