-- Patches applied from webhook answers, one per delivery at most: a retried delivery or a
-- repeated answer finds its row and changes nothing again.
CREATE TABLE answer_patches (
    delivery_id TEXT PRIMARY KEY NOT NULL,
    incident_id TEXT NOT NULL,
    applied_at BIGINT NOT NULL
);
