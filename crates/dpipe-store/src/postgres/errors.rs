//! Mapping PostgreSQL failures to [`StoreError`]: the SQLSTATEs the registry reacts to
//! (unique and foreign-key violations) become the same variants the SQLite store returns, and
//! everything else a [`StoreError::Backend`] in words, never carrying a password (statements
//! bind values, and connection errors are described by host and port only).

use std::error::Error as _;

use postgres::error::SqlState;

use crate::StoreError;

/// Wraps a PostgreSQL failure.
pub(super) fn backend(err: postgres::Error) -> StoreError {
    StoreError::Backend(describe(&err))
}

/// Maps a unique violation of one of `constraints` (constraint name, request field) to
/// [`StoreError::Unique`] naming the field; anything else to [`StoreError::Backend`].
pub(super) fn unique_or_backend(
    err: postgres::Error,
    constraints: &[(&str, &'static str)],
) -> StoreError {
    if err.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && let Some(violated) = err.as_db_error().and_then(|db| db.constraint())
        && let Some((_, field)) = constraints.iter().find(|(name, _)| *name == violated)
    {
        return StoreError::Unique(field);
    }
    backend(err)
}

/// Whether `err` is a foreign-key violation (a restricted delete, or a reference to a row
/// that is gone).
pub(super) fn is_foreign_key_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&SqlState::FOREIGN_KEY_VIOLATION)
}

/// Whether `err` is a unique violation of any constraint.
pub(super) fn is_unique_violation(err: &postgres::Error) -> bool {
    err.code() == Some(&SqlState::UNIQUE_VIOLATION)
}

/// The failure in words: the server's message for a database error, else the client's
/// description followed by its causes ("error connecting to server: Connection refused").
pub(super) fn describe(err: &postgres::Error) -> String {
    if let Some(db) = err.as_db_error() {
        return db.message().to_owned();
    }
    let mut text = err.to_string();
    let mut cause = err.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}
