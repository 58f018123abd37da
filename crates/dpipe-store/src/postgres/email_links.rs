//! SQL for the `email_links` table: the single-use links that verify an account's email
//! address (and so let it claim the invitations waiting for that address).

use super::errors::backend;
use super::{Connection, column};
use crate::StoreResult;
use crate::records::{EmailLinkRecord, NewEmailLink};

/// Records a link, and forgets the links that expired before `forget_before` (they can never
/// work again), in one transaction.
pub(super) fn insert(
    conn: &mut Connection,
    link: &NewEmailLink,
    forget_before: &str,
) -> StoreResult<()> {
    let mut tx = conn.client.transaction().map_err(backend)?;
    tx.execute(
        "DELETE FROM email_links WHERE expires_at < $1",
        &[&forget_before],
    )
    .map_err(backend)?;
    tx.execute(
        "INSERT INTO email_links (user_id, token_hash, created_at, expires_at)
         VALUES ($1, $2, $3, $4)",
        &[
            &link.user_id,
            &link.token_hash,
            &link.created_at,
            &link.expires_at,
        ],
    )
    .map_err(backend)?;
    tx.commit().map_err(backend)
}

/// Deletes the link whose token hashes to `token_hash` and returns it: a link works once, even
/// when two servers are handed it at the same moment (one `DELETE … RETURNING`).
pub(super) fn take(
    conn: &mut Connection,
    token_hash: &str,
) -> StoreResult<Option<EmailLinkRecord>> {
    let row = conn
        .client
        .query_opt(
            "DELETE FROM email_links WHERE token_hash = $1 RETURNING user_id, expires_at",
            &[&token_hash],
        )
        .map_err(backend)?;
    row.map(|row| {
        Ok(EmailLinkRecord {
            user_id: column(&row, 0)?,
            expires_at: column(&row, 1)?,
        })
    })
    .transpose()
}
