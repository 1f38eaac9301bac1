DROP INDEX incidents_open_severity_idx;
DROP TABLE ui_sessions;
