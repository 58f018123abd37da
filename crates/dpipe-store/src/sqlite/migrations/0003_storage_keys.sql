-- Managed storage: the keys the repo API mints for the built-in object store, one row per
-- key. The secret is not stored: it is derived from the server key and the key id. A key
-- dies with its pipe or its user, and is judged live at every request against the grants.
CREATE TABLE storage_keys (
    id          INTEGER PRIMARY KEY,
    key_id      TEXT    NOT NULL UNIQUE,
    user_id     INTEGER REFERENCES users(id) ON DELETE CASCADE,
    pipe_id     INTEGER NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    access      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
CREATE INDEX storage_keys_holder ON storage_keys(pipe_id, user_id, access, expires_at);

-- A credentials fetch of a managed pipe records the key it handed out and until when.
ALTER TABLE audit_events ADD COLUMN key_id TEXT;
ALTER TABLE audit_events ADD COLUMN expires_at TEXT;
