-- Schedules (SPEC §8). The whole definition is one JSON document; the columns are what is
-- constrained, or what the scheduler filters and orders on without parsing the document.
-- `next_due_at` is the next due time not yet fired (Unix ms), NULL when none is left: firing a
-- due time and moving it on happen in one transaction, which is what makes each due time fire
-- once across every process sharing the database.
CREATE TABLE schedules (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL,
    webhook_id TEXT NOT NULL REFERENCES webhooks (id),
    enabled BOOLEAN NOT NULL,
    config TEXT NOT NULL,
    next_due_at BIGINT,
    last_fired_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);
CREATE UNIQUE INDEX schedules_name_key ON schedules (name);
CREATE INDEX schedules_due_idx ON schedules (next_due_at) WHERE enabled;
CREATE INDEX schedules_webhook_idx ON schedules (webhook_id);

-- One row per firing: a due time (`manual` when run by hand, at the time it was run), the due
-- times it stood for that were missed while no process ran (`missed`), and the event it stored.
-- A due time can be fired once only: the unique key refuses a second firing whatever happened
-- to the claims.
CREATE TABLE schedule_runs (
    id TEXT PRIMARY KEY NOT NULL,
    schedule_id TEXT NOT NULL REFERENCES schedules (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    fired_at BIGINT NOT NULL,
    manual BOOLEAN NOT NULL,
    missed BIGINT NOT NULL,
    event_id TEXT NOT NULL REFERENCES events (id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX schedule_runs_due_key ON schedule_runs (schedule_id, due_at) WHERE NOT manual;
CREATE INDEX schedule_runs_latest_idx ON schedule_runs (schedule_id, id);
CREATE INDEX schedule_runs_event_idx ON schedule_runs (event_id);
