-- Throttle states (the registry's failed-login counters) live in the database, so every
-- server instance sharing it counts against the same numbers and a restart forgets nothing.
-- A state past `expires_at` reads as absent and is deleted a few at a time by later updates,
-- found through the index. Times are fixed-width RFC 3339 text compared in "C" order.
CREATE TABLE throttles (
    key         TEXT COLLATE "C" PRIMARY KEY,
    state       TEXT NOT NULL,
    expires_at  TEXT COLLATE "C" NOT NULL
);
CREATE INDEX throttles_expiry ON throttles(expires_at);
