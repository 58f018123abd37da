-- The id of the key that seals stored credentials now. Every server sharing the database
-- seals with this key (not with whichever key its own ring file lists first), so a rotation
-- run once reaches every instance. One row at most.
CREATE TABLE sealing_key (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    key_id TEXT NOT NULL
);

-- A check value of the server key (a hash derived from it, not the key): servers sharing the
-- database must derive tokens with one key, and the first to start records which.
CREATE TABLE server_key_check (
    singleton INTEGER PRIMARY KEY CHECK (singleton = 1),
    check_value TEXT NOT NULL
);
