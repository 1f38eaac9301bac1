DROP INDEX events_subject_idx;
DROP INDEX deliveries_webhook_status_idx;
