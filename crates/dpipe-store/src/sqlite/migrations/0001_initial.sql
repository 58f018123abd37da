-- The repo API's first schema: accounts, remotes, pipes and grants.
CREATE TABLE users (
    id               INTEGER PRIMARY KEY,
    username         TEXT    NOT NULL UNIQUE,
    email            TEXT    NOT NULL UNIQUE,
    password_hash    TEXT    NOT NULL,
    token_hash       TEXT    NOT NULL UNIQUE,
    token_seed       TEXT    NOT NULL,
    created_at       TEXT    NOT NULL
);

CREATE TABLE remotes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    protocol    TEXT    NOT NULL,
    location    TEXT    NOT NULL,
    credentials TEXT,
    settings    TEXT    NOT NULL,
    schema      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);

CREATE TABLE pipes (
    id          INTEGER PRIMARY KEY,
    name        TEXT    NOT NULL UNIQUE,
    owner_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    parent_id   INTEGER REFERENCES pipes(id) ON DELETE CASCADE,
    remote_id   INTEGER REFERENCES remotes(id) ON DELETE RESTRICT,
    protocol    TEXT,
    location    TEXT,
    credentials TEXT,
    settings    TEXT    NOT NULL,
    options     TEXT    NOT NULL,
    schema      TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    updated_at  TEXT    NOT NULL
);
CREATE INDEX pipes_parent ON pipes(parent_id);
CREATE INDEX pipes_remote ON pipes(remote_id);

CREATE TABLE grants (
    id              INTEGER PRIMARY KEY,
    pipe_id         INTEGER NOT NULL REFERENCES pipes(id) ON DELETE CASCADE,
    grantee         TEXT    NOT NULL,
    user_id         INTEGER REFERENCES users(id) ON DELETE CASCADE,
    email           TEXT,
    role            TEXT    NOT NULL,
    expiration_date TEXT,
    created_at      TEXT    NOT NULL,
    UNIQUE (pipe_id, grantee)
);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_email ON grants(email);
