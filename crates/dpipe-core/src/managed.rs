//! Managed storage (d6tpipe's `d6tfree`): the server provides the storage of a pipe created
//! with a name only. Its files live under `s3://<managed bucket>/<owner>/<pipe>/`, and callers
//! reach them only with short-lived credentials scoped to that prefix and to their role.
//!
//! This module holds the pure rules: where a managed pipe's files live ([`managed_prefix`]),
//! what a scope admits ([`Scope`]), the vocabulary in which the built-in object store asks
//! the registry about each request ([`StorageRequest`], [`StorageRefusal`]), and the seam
//! through which an external S3's STS issues credentials ([`SessionIssuer`]). The registry
//! applies the rules; the built-in object store and STS enforce them.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::Result;
use crate::role::Access;

/// The prefix (inside the managed bucket, ending with `/`) of a managed root pipe's files.
pub fn managed_prefix(owner: &str, pipe: &str) -> String {
    format!("{owner}/{pipe}/")
}

/// What one set of managed credentials may reach: objects of `bucket` whose key starts with
/// `prefix` (which ends with `/`), for reading or also for writing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope {
    /// The managed bucket.
    pub bucket: String,
    /// The pipe's folder in the bucket, ending with `/`.
    pub prefix: String,
    /// Read, or read and write.
    pub access: Access,
}

impl Scope {
    /// The scope of a pipe whose `remotepath` is `s3://<bucket>/<prefix>`, or `None` when
    /// `remotepath` is not such a path (or names the bucket's root: nobody is scoped to that).
    pub fn of_remotepath(remotepath: &str, access: Access) -> Option<Scope> {
        let (bucket, prefix) = remotepath.strip_prefix("s3://")?.split_once('/')?;
        (!bucket.is_empty() && !prefix.is_empty() && prefix.ends_with('/')).then(|| Scope {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
            access,
        })
    }

    /// True when `key` of `bucket` is inside this scope: below the prefix, and a clean
    /// relative path (no empty, `.` or `..` segment, no backslash, no control character), so
    /// that no reading of the key can take it outside the prefix. A trailing `/` (a folder
    /// marker such as `sub/`, which clients probe and some create) is allowed.
    pub fn admits_object(&self, bucket: &str, key: &str) -> bool {
        bucket == self.bucket
            && key.strip_prefix(self.prefix.as_str()).is_some_and(|rest| {
                rest.is_empty() || is_clean_relative_key(rest.strip_suffix('/').unwrap_or(rest))
            })
    }

    /// True when a listing of `bucket` under `prefix` shows only files of this scope: the
    /// listing prefix starts with the scope's prefix (`ann/demo` would also list
    /// `ann/demo-2/`, so it is refused) and has no `.` or `..` segment.
    pub fn admits_listing(&self, bucket: &str, prefix: &str) -> bool {
        bucket == self.bucket
            && prefix.starts_with(self.prefix.as_str())
            && !prefix.split('/').any(|s| s == "." || s == "..")
            && !prefix.chars().any(|c| c.is_control() || c == '\\')
    }
}

/// A path below a scope's prefix: one or more segments, none empty, `.` or `..`, no
/// backslash and no control character.
fn is_clean_relative_key(rest: &str) -> bool {
    rest.split('/')
        .all(|s| !s.is_empty() && s != "." && s != "..")
        && !rest.chars().any(|c| c.is_control() || c == '\\')
}

/// What a request to the built-in object store wants to touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StorageTarget<'a> {
    /// One object, by key.
    Object(&'a str),
    /// A listing under a prefix (`""`: the whole bucket).
    Listing(&'a str),
    /// The bucket itself (does it exist?).
    Bucket,
}

/// One request to the built-in object store, after its signature was checked. `Debug` hides
/// the session token.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct StorageRequest<'a> {
    /// The access key id the request was signed with (the signature already checked).
    pub access_key: &'a str,
    /// The `x-amz-security-token` sent along, if any.
    pub session_token: Option<&'a str>,
    /// The bucket.
    pub bucket: &'a str,
    /// What in the bucket.
    pub target: StorageTarget<'a>,
    /// True for uploads, deletions and multipart operations.
    pub write: bool,
}

impl fmt::Debug for StorageRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StorageRequest")
            .field("access_key", &self.access_key)
            .field("session_token", &self.session_token.map(|_| "<redacted>"))
            .field("bucket", &self.bucket)
            .field("target", &self.target)
            .field("write", &self.write)
            .finish()
    }
}

/// Why the registry refuses a request to the built-in object store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StorageRefusal {
    /// No such key was ever minted, or it was forgotten (its pipe or user is gone).
    UnknownKey,
    /// The key's time is up.
    Expired,
    /// The key exists and is live but may not do this; the text says why.
    Denied(String),
}

/// What the registry asks an external S3's STS for: credentials limited by `policy` (a
/// session policy allowing only the pipe's prefix and the caller's role) for `seconds`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRequest {
    /// A name for the session, shown in the storage's own logs (`dpipe-<user>-<pipe>`, cut to
    /// what STS accepts).
    pub session_name: String,
    /// The session policy, as JSON text.
    pub policy: String,
    /// How long the credentials live.
    pub seconds: u32,
}

/// Temporary credentials issued by STS. `Debug` shows the key id and expiry only.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedSession {
    /// The access key id.
    pub access_key_id: String,
    /// The secret access key.
    pub secret_access_key: String,
    /// The session token that must accompany every request.
    pub session_token: String,
    /// When the credentials stop working.
    pub expires_at: DateTime<Utc>,
}

impl fmt::Debug for IssuedSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuedSession")
            .field("access_key_id", &self.access_key_id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// Issues temporary credentials on an external S3 (its STS). Called from a blocking thread.
pub trait SessionIssuer: Send + Sync {
    /// Credentials for `request`, or an error saying why STS refused or could not be reached.
    fn issue(&self, request: &SessionRequest) -> Result<IssuedSession>;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Scope {
        Scope::of_remotepath("s3://dpipe/ann/demo/", Access::Read).unwrap()
    }

    #[test]
    fn scope_of_a_remotepath() {
        let s = scope();
        assert_eq!(
            (s.bucket.as_str(), s.prefix.as_str()),
            ("dpipe", "ann/demo/")
        );
        assert!(Scope::of_remotepath("s3://dpipe/", Access::Read).is_none());
        assert!(Scope::of_remotepath("/srv/x/", Access::Read).is_none());
        assert!(Scope::of_remotepath("s3://dpipe/ann/demo", Access::Read).is_none());
    }

    #[test]
    fn objects_inside_the_prefix_only() {
        let s = scope();
        assert!(s.admits_object("dpipe", "ann/demo/a.csv"));
        assert!(s.admits_object("dpipe", "ann/demo/sub/b.csv"));
        // Folder markers inside the scope, the scope's own included.
        assert!(s.admits_object("dpipe", "ann/demo/sub/"));
        assert!(s.admits_object("dpipe", "ann/demo/"));
        for key in [
            "ann/demo",
            "ann/demo//",
            "ann/demo/sub//",
            "ann/demo/../",
            "ann/demo-2/a.csv",
            "bob/demo/a.csv",
            "ann/demo/../bob/a.csv",
            "ann/demo/./a.csv",
            "ann/demo//a.csv",
            "ann/demo/a\\..\\b",
            "ann/demo/a\0b",
            "/ann/demo/a.csv",
        ] {
            assert!(!s.admits_object("dpipe", key), "{key:?}");
        }
        assert!(!s.admits_object("other", "ann/demo/a.csv"));
    }

    #[test]
    fn listings_inside_the_prefix_only() {
        let s = scope();
        assert!(s.admits_listing("dpipe", "ann/demo/"));
        assert!(s.admits_listing("dpipe", "ann/demo/sub/"));
        for prefix in ["", "ann/", "ann/demo", "ann/demo/../", "bob/demo/"] {
            assert!(!s.admits_listing("dpipe", prefix), "{prefix:?}");
        }
        assert!(!s.admits_listing("other", "ann/demo/"));
    }
}
