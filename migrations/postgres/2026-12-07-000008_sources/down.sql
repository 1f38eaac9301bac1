DROP TABLE source_requests;
DROP TABLE sources;
