-- The repo API's schema for PostgreSQL: the SQLite schema after its migrations 0001-0005
-- (accounts, remotes, pipes, grants, the audit trail, minted storage keys, email links) in one
-- step. Ids are identities; timestamps stay RFC 3339 text and JSON stays text, exactly as
-- SQLite stores them, so records read back equal from either backend. Unique constraints are
-- named so that a violation maps to the request field it is about. Names and timestamps that
-- are sorted or compared use the "C" collation: byte order, as SQLite sorts them, whatever
-- the database's locale.
CREATE TABLE users (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    username       TEXT NOT NULL CONSTRAINT users_username_unique UNIQUE,
    email          TEXT NOT NULL CONSTRAINT users_email_unique UNIQUE,
    password_hash  TEXT NOT NULL,
    token_hash     TEXT NOT NULL CONSTRAINT users_token_hash_unique UNIQUE,
    token_seed     TEXT NOT NULL,
    created_at     TEXT NOT NULL
);

CREATE TABLE remotes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT   COLLATE "C" NOT NULL CONSTRAINT remotes_name_unique UNIQUE,
    owner_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    protocol     TEXT   NOT NULL,
    location     TEXT   NOT NULL,
    credentials  TEXT,
    settings     TEXT   NOT NULL,
    schema       TEXT   NOT NULL,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);
CREATE INDEX remotes_owner ON remotes(owner_id);

CREATE TABLE pipes (
    id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    name         TEXT   COLLATE "C" NOT NULL CONSTRAINT pipes_name_unique UNIQUE,
    owner_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    parent_id    BIGINT REFERENCES pipes(id) ON DELETE CASCADE,
    remote_id    BIGINT REFERENCES remotes(id) ON DELETE RESTRICT,
    protocol     TEXT,
    location     TEXT,
    credentials  TEXT,
    settings     TEXT   NOT NULL,
    options      TEXT   NOT NULL,
    schema       TEXT   NOT NULL,
    created_at   TEXT   NOT NULL,
    updated_at   TEXT   NOT NULL
);
CREATE INDEX pipes_owner ON pipes(owner_id);
CREATE INDEX pipes_parent ON pipes(parent_id);
CREATE INDEX pipes_remote ON pipes(remote_id);

CREATE TABLE grants (
    id               BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    pipe_id          BIGINT NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    grantee          TEXT   NOT NULL,
    user_id          BIGINT REFERENCES users(id) ON DELETE CASCADE,
    email            TEXT,
    role             TEXT   NOT NULL,
    expiration_date  TEXT,
    created_at       TEXT   NOT NULL,
    CONSTRAINT grants_pipe_grantee_unique UNIQUE (pipe_id, grantee)
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_email ON grants(email);
CREATE INDEX grants_grantee ON grants(grantee);

-- One row per credential fetch, grant change, login failure and settings change, allowed or
-- refused; pipes and remotes are named, not referenced, so the trail outlives them.
CREATE TABLE audit_events (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TEXT COLLATE "C" NOT NULL,
    who         TEXT NOT NULL,
    action      TEXT NOT NULL,
    pipe        TEXT COLLATE "C",
    remote      TEXT,
    grantee     TEXT,
    role        TEXT,
    source      TEXT,
    outcome     TEXT NOT NULL,
    reason      TEXT,
    key_id      TEXT,
    expires_at  TEXT
);
CREATE INDEX audit_events_pipe ON audit_events(pipe, id);

-- Keys minted for the built-in object store; the secret is derived, never stored.
CREATE TABLE storage_keys (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    key_id      TEXT   NOT NULL CONSTRAINT storage_keys_key_id_unique UNIQUE,
    user_id     BIGINT REFERENCES users(id) ON DELETE CASCADE,
    pipe_id     BIGINT NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    access      TEXT   NOT NULL,
    created_at  TEXT   NOT NULL,
    expires_at  TEXT   COLLATE "C" NOT NULL
);
CREATE INDEX storage_keys_holder ON storage_keys(pipe_id, user_id, access, expires_at);
CREATE INDEX storage_keys_expiry ON storage_keys(expires_at);

-- Single-use links that verify an account's email address; only the token's hash is kept.
CREATE TABLE email_links (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT   NOT NULL CONSTRAINT email_links_token_hash_unique UNIQUE,
    created_at  TEXT   NOT NULL,
    expires_at  TEXT   COLLATE "C" NOT NULL
);
CREATE INDEX email_links_user ON email_links(user_id);
CREATE INDEX email_links_expiry ON email_links(expires_at);
