//! The names provisioning derives from a remote name — bucket `dpipe-NAME`, users
//! `dpipe-NAME-read` and `dpipe-NAME-write`, their inline policies — and the checks that
//! refuse a bad name before any AWS call.

use crate::error::{Error, ErrorKind, Result};

/// The prefix of every bucket and user this crate creates or deletes; the admin policy in
/// `docs/s3-provisioning.md` is scoped to it.
pub const PREFIX: &str = "dpipe-";

/// S3 bucket names are 3 to 63 characters long.
const BUCKET_MAX: usize = 63;
/// IAM user names are at most 64 characters long.
const USER_MAX: usize = 64;
/// The longest remote name: bounded by the bucket name and by the write user's name.
const REMOTE_MAX: usize = {
    let by_bucket = BUCKET_MAX - PREFIX.len();
    let by_user = USER_MAX - PREFIX.len() - WRITE_SUFFIX.len();
    if by_bucket < by_user {
        by_bucket
    } else {
        by_user
    }
};
const READ_SUFFIX: &str = "-read";
const WRITE_SUFFIX: &str = "-write";
/// Bucket-name endings S3 reserves for its own features.
const RESERVED_SUFFIXES: [&str; 4] = ["-s3alias", "--ol-s3", "--x-s3", "--table-s3"];

/// The AWS names belonging to one remote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteNames {
    /// The remote name as given.
    pub remote: String,
    /// `dpipe-NAME`.
    pub bucket: String,
    /// `dpipe-NAME-read`, also the name of its inline policy.
    pub read_user: String,
    /// `dpipe-NAME-write`, also the name of its inline policy.
    pub write_user: String,
}

impl RemoteNames {
    /// Checks `remote` (lowercase letters, digits and inner hyphens, short enough for the
    /// bucket and user names) and derives the names.
    pub fn new(remote: &str) -> Result<RemoteNames> {
        let names = RemoteNames {
            remote: remote.to_owned(),
            bucket: format!("{PREFIX}{remote}"),
            read_user: format!("{PREFIX}{remote}{READ_SUFFIX}"),
            write_user: format!("{PREFIX}{remote}{WRITE_SUFFIX}"),
        };
        let refuse = |why: String| Err(invalid(format!("invalid remote name {remote:?}: {why}")));
        if remote.is_empty() {
            return refuse("it is empty".into());
        }
        if let Some(bad) = remote.chars().find(|c| !is_name_char(*c)) {
            return refuse(format!(
                "{bad:?} is not allowed; use lowercase letters, digits and hyphens"
            ));
        }
        if remote.starts_with('-') || remote.ends_with('-') {
            return refuse("it must start and end with a letter or a digit".into());
        }
        if let Some(suffix) = RESERVED_SUFFIXES
            .iter()
            .find(|s| names.bucket.ends_with(*s))
        {
            return refuse(format!("S3 reserves bucket names ending in {suffix:?}"));
        }
        if remote.len() > REMOTE_MAX {
            return refuse(format!(
                "it is {} characters long, at most {REMOTE_MAX} fit: bucket names have at most \
                 {BUCKET_MAX} characters, IAM user names (here {:?}) at most {USER_MAX}",
                remote.len(),
                names.write_user
            ));
        }
        Ok(names)
    }
}

/// Checks a bucket name given to `delete_bucket`: one this crate could have created.
pub fn check_bucket(bucket: &str) -> Result<()> {
    check_prefixed("bucket", bucket, BUCKET_MAX)
}

/// Checks a user name given to `delete_user`: one this crate could have created.
pub fn check_user(user: &str) -> Result<()> {
    check_prefixed("user", user, USER_MAX)
}

fn check_prefixed(what: &str, name: &str, max: usize) -> Result<()> {
    let rest = name.strip_prefix(PREFIX).unwrap_or_default();
    if rest.is_empty() || name.len() > max || !rest.chars().all(is_name_char) {
        return Err(invalid(format!(
            "invalid {what} name {name:?}: expected {PREFIX:?} followed by lowercase letters, \
             digits and hyphens, at most {max} characters (dpipe only removes what it creates)"
        )));
    }
    Ok(())
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::Invalid, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn derives_names() {
        let names = RemoteNames::new("sales-2024").unwrap();
        assert_eq!(names.bucket, "dpipe-sales-2024");
        assert_eq!(names.read_user, "dpipe-sales-2024-read");
        assert_eq!(names.write_user, "dpipe-sales-2024-write");
    }

    #[test]
    fn refuses_bad_names() {
        for bad in [
            "",
            "Sales",
            "a_b",
            "a.b",
            "-a",
            "a-",
            "a/b",
            "x-s3alias",
            "é",
        ] {
            let err = RemoteNames::new(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Invalid, "{bad:?}");
            assert!(err.message().contains("invalid remote name"), "{err}");
        }
    }

    #[test]
    fn length_limit_comes_from_the_write_user() {
        assert!(RemoteNames::new(&"a".repeat(52)).is_ok());
        let err = RemoteNames::new(&"a".repeat(53)).unwrap_err();
        assert!(err.message().contains("at most 52"), "{err}");
    }

    #[test]
    fn delete_targets_must_carry_the_prefix() {
        assert!(check_bucket("dpipe-x").is_ok());
        assert!(check_user("dpipe-x-read").is_ok());
        for bad in ["x", "dpipe-", "other-x", "dpipe-X", "dpipe-a_b"] {
            assert_eq!(
                check_bucket(bad).unwrap_err().kind(),
                ErrorKind::Invalid,
                "{bad}"
            );
        }
    }
}
