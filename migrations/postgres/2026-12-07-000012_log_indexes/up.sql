-- The delivery log filtered by webhook and status (the console's "failed deliveries of this
-- webhook", and replays): without it a rare status meant walking all of the webhook's deliveries.
CREATE INDEX deliveries_webhook_status_idx ON deliveries (webhook_id, status, id);
-- An incident's deliveries: its events are those whose subject is the incident.
CREATE INDEX events_subject_idx ON events (subject, id);
