DROP TABLE settings;
DROP TABLE reply_links;
DELETE FROM counters WHERE name = 'trigger_generation';
DROP TABLE triggers;
