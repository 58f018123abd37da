//! SQL for the `email_links` table: the single-use links that verify an account's email
//! address (and so let it claim the invitations waiting for that address).

use rusqlite::{Connection, OptionalExtension, params};

use super::backend;
use crate::StoreResult;
use crate::records::{EmailLinkRecord, NewEmailLink};

/// Records a link, and forgets the links that expired before `forget_before` (they can never
/// work again), in one transaction.
pub(super) fn insert(
    conn: &mut Connection,
    link: &NewEmailLink,
    forget_before: &str,
) -> StoreResult<()> {
    let tx = conn.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM email_links WHERE expires_at < ?1",
        params![forget_before],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO email_links (user_id, token_hash, created_at, expires_at)
         VALUES (?1, ?2, ?3, ?4)",
        params![
            link.user_id,
            link.token_hash,
            link.created_at,
            link.expires_at
        ],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

/// Deletes the link whose token hashes to `token_hash` and returns it: a link works once.
pub(super) fn take(conn: &Connection, token_hash: &str) -> StoreResult<Option<EmailLinkRecord>> {
    conn.query_row(
        "DELETE FROM email_links WHERE token_hash = ?1 RETURNING user_id, expires_at",
        [token_hash],
        |row| {
            Ok(EmailLinkRecord {
                user_id: row.get(0)?,
                expires_at: row.get(1)?,
            })
        },
    )
    .optional()
    .map_err(backend)
}
