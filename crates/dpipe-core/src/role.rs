//! Roles, grants and who counts as a grantee: the vocabulary of the permission rules.

use std::fmt;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Error, Result};

/// A caller's effective rights on a pipe, ordered `Read < Write < Admin < Owner`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// List, get, read credentials.
    Read,
    /// Also write credentials.
    Write,
    /// Also change settings and create children.
    Admin,
    /// Everything: delete, manage permissions. The owner of the pipe or of an ancestor.
    Owner,
}

impl Role {
    /// What the wire's `role` field says: `read`, or `write` for everything above (the d6tpipe
    /// client only distinguishes read-only from writable).
    pub fn reported(self) -> &'static str {
        match self {
            Role::Read => "read",
            _ => "write",
        }
    }

    /// The access level this role permits.
    pub fn allows(self, access: Access) -> bool {
        match access {
            Access::Read => true,
            Access::Write => self >= Role::Write,
        }
    }
}

/// The two kinds of storage access, and the `role` query of the credentials endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// Listing and downloading.
    Read,
    /// Uploading and deleting.
    Write,
}

impl Access {
    /// Parses `read` or `write`; the error names the `role` field.
    pub fn parse(value: &str) -> Result<Access> {
        match value {
            "read" => Ok(Access::Read),
            "write" => Ok(Access::Write),
            other => Err(Error::invalid_field(
                "role",
                format!("\"{other}\" is not a valid choice (read, write)."),
            )),
        }
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Access::Read => "read",
            Access::Write => "write",
        }
    }
}

/// The role a grant gives (a stored grant never holds `revoke`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum GrantRole {
    /// Read access.
    Read,
    /// Read and write access.
    Write,
    /// Read, write and settings.
    Admin,
}

impl GrantRole {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            GrantRole::Read => "read",
            GrantRole::Write => "write",
            GrantRole::Admin => "admin",
        }
    }

    /// Parses a stored role.
    pub fn parse(value: &str) -> Option<GrantRole> {
        match value {
            "read" => Some(GrantRole::Read),
            "write" => Some(GrantRole::Write),
            "admin" => Some(GrantRole::Admin),
            _ => None,
        }
    }

    /// The effective role this grant gives.
    pub fn role(self) -> Role {
        match self {
            GrantRole::Read => Role::Read,
            GrantRole::Write => Role::Write,
            GrantRole::Admin => Role::Admin,
        }
    }
}

impl fmt::Display for GrantRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a permission request asks for: set a role, or revoke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GrantChange {
    /// Create or replace the grant with this role.
    Set(GrantRole),
    /// Delete the grant (a no-op when there is none).
    Revoke,
}

impl GrantChange {
    /// Parses the `role` field of a permission request.
    pub fn parse(value: &str) -> Result<GrantChange> {
        match value {
            "revoke" => Ok(GrantChange::Revoke),
            other => GrantRole::parse(other)
                .map(GrantChange::Set)
                .ok_or_else(|| {
                    Error::invalid_field(
                        "role",
                        format!("\"{other}\" is not a valid choice (read, write, admin, revoke)."),
                    )
                }),
        }
    }
}

/// Whether a grant with this expiration date still counts on `today`: the date itself is the
/// last day of access.
pub fn is_live(expiration_date: Option<NaiveDate>, today: NaiveDate) -> bool {
    expiration_date.is_none_or(|expires| expires >= today)
}

/// Parses an `expiration_date` (`YYYY-MM-DD`).
pub fn parse_expiration(value: &str) -> Result<NaiveDate> {
    NaiveDate::parse_from_str(value, "%Y-%m-%d").map_err(|_| {
        Error::invalid_field(
            "expiration_date",
            "Date has wrong format. Use one of these formats instead: YYYY-MM-DD.",
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordering_and_reporting() {
        assert!(Role::Read < Role::Write && Role::Admin < Role::Owner);
        assert_eq!(Role::Owner.reported(), "write");
        assert!(!Role::Read.allows(Access::Write));
        assert!(Role::Write.allows(Access::Write));
    }

    #[test]
    fn expiration() {
        let today = NaiveDate::from_ymd_opt(2026, 1, 10).unwrap();
        assert!(is_live(None, today));
        assert!(is_live(Some(today), today));
        assert!(!is_live(today.pred_opt(), today));
        assert!(parse_expiration("2026-13-01").is_err());
        assert!(parse_expiration("10/01/2026").is_err());
    }

    #[test]
    fn changes() {
        assert_eq!(GrantChange::parse("revoke").unwrap(), GrantChange::Revoke);
        assert!(GrantChange::parse("owner").is_err());
    }
}
