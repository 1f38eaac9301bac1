-- The ids of the keys that may have sealed a stored secret (SPEC §6.5). A start whose keys do
-- not include every id here refuses to run rather than send credentials it cannot open; a
-- rotation re-seals everything under the current key and leaves only its id.
CREATE TABLE secret_keys (
    key_id TEXT PRIMARY KEY NOT NULL,
    recorded_at BIGINT NOT NULL
);
