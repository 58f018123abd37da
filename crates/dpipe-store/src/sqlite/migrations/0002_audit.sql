-- The audit trail: one row per credential fetch, grant change, login failure and settings
-- change, allowed or refused. Rows name pipes and remotes by name and have no foreign keys,
-- so the trail outlives what it is about. No column ever holds a secret.
CREATE TABLE audit_events (
    id       INTEGER PRIMARY KEY,
    at       TEXT    NOT NULL,
    who      TEXT    NOT NULL,
    action   TEXT    NOT NULL,
    pipe     TEXT,
    remote   TEXT,
    grantee  TEXT,
    role     TEXT,
    source   TEXT,
    outcome  TEXT    NOT NULL,
    reason   TEXT
);
CREATE INDEX audit_events_pipe ON audit_events(pipe, id);
