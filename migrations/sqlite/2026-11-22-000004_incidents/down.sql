DROP TABLE counters;
DROP TABLE incident_timeline;
DROP TABLE incidents;
