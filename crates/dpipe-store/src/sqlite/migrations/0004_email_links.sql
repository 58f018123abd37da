-- Invitations are no longer claimed by registering: a pending invitation (a grant to an email)
-- goes to the account with that email only once the address is verified, by the granting
-- owner's confirmation or by a link mailed to the address. One row per link sent; only the
-- hash of its token is kept, and a link is deleted when used.
CREATE TABLE email_links (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    token_hash  TEXT    NOT NULL UNIQUE,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL
);
CREATE INDEX email_links_user ON email_links(user_id);
