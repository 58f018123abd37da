-- Throttle states (the registry's failed-login counters) live in the database, so every
-- process on this file counts against the same numbers and a restart forgets nothing. A state
-- past `expires_at` reads as absent and is deleted a few at a time by later updates, found
-- through the index.
CREATE TABLE throttles (
    key         TEXT NOT NULL PRIMARY KEY,
    state       TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);
CREATE INDEX throttles_expiry ON throttles(expires_at);
