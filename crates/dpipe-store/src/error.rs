//! The store's error type: the few outcomes the registry reacts to, and a catch-all for
//! the database failing.

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique column already holds the value; names the request field it maps to.
    #[error("{0} already exists")]
    Unique(&'static str),
    /// The row is referenced and cannot be deleted; lists the referencing names.
    #[error("in use by {}", .0.join(", "))]
    InUse(Vec<String>),
    /// The database failed (I/O, corruption, lock time-out, a bug).
    #[error("database error: {0}")]
    Backend(String),
}

/// Shorthand for results carrying [`StoreError`].
pub type StoreResult<T> = Result<T, StoreError>;
