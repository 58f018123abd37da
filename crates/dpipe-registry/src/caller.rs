//! Who is asking: nobody in particular, or an authenticated user.

use dpipe_core::{Error, Result};
use dpipe_store::UserRecord;

/// The identity a request is judged by.
#[derive(Debug, Clone)]
pub enum Caller {
    /// No token was given.
    Anonymous,
    /// A user authenticated by token (server) or the profile's local user (local mode).
    User(UserRecord),
}

impl Caller {
    /// The user, or 401 when anonymous.
    pub fn user(&self) -> Result<&UserRecord> {
        match self {
            Caller::User(user) => Ok(user),
            Caller::Anonymous => Err(Error::unauthenticated()),
        }
    }

    /// The user's id, if any.
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Caller::User(user) => Some(user.id),
            Caller::Anonymous => None,
        }
    }

    /// The username for logs (`-` when anonymous).
    pub fn name(&self) -> &str {
        match self {
            Caller::User(user) => &user.username,
            Caller::Anonymous => "-",
        }
    }
}
